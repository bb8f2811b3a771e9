import Foundation
import TestSupport
import Testing

@testable import Export

@Suite struct AtomicFileTests {
    func entries(_ dir: TemporaryDirectory) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
    }

    @Test func successLeavesOnlyTheFinalFile() throws {
        let dir = try TemporaryDirectory()
        try AtomicFile.write(text: "old", to: dir.file("a.json"))
        try AtomicFile.write(text: "new contents", to: dir.file("a.json"))
        #expect(try entries(dir) == ["a.json"])
        #expect(try String(contentsOfFile: dir.file("a.json"), encoding: .utf8) == "new contents")
    }

    @Test func aFailingWriterLeavesTheOldFileAndNoTemporary() throws {
        struct Simulated: Error {}
        let dir = try TemporaryDirectory()
        try AtomicFile.write(text: "old", to: dir.file("a.json"))
        #expect(throws: ExportError.self) {
            try AtomicFile.write(to: dir.file("a.json")) { temporary in
                try "half of the new".write(toFile: temporary, atomically: false, encoding: .utf8)
                throw Simulated()
            }
        }
        #expect(try entries(dir) == ["a.json"])
        #expect(try String(contentsOfFile: dir.file("a.json"), encoding: .utf8) == "old")
    }

    @Test func aFailedRenameRemovesTheTemporaryAndKeepsWhatWasThere() throws {
        let dir = try TemporaryDirectory()
        // A folder where the file should go: rename(2) refuses to replace it.
        try FileManager.default.createDirectory(atPath: dir.file("a.json"), withIntermediateDirectories: false)
        try "keep".write(toFile: dir.file("a.json/inside"), atomically: false, encoding: .utf8)
        let error = try #require(throws: ExportError.self) { try AtomicFile.write(text: "new", to: dir.file("a.json")) }
        #expect(error.description.contains("rename"))
        #expect(try entries(dir) == ["a.json"])
        #expect(try String(contentsOfFile: dir.file("a.json/inside"), encoding: .utf8) == "keep")
    }

    @Test func aMissingFolderIsOneLineNamingTheFile() throws {
        let dir = try TemporaryDirectory()
        let error = try #require(throws: ExportError.self) {
            try AtomicFile.write(text: "x", to: dir.file("missing/a.json"))
        }
        #expect(error.description.hasPrefix(dir.file("missing/a.json") + ": "))
        #expect(!error.description.contains("\n"))
    }

    @Test(.enabled(if: getuid() != 0, "root ignores folder permissions"))
    func aReadOnlyFolderIsAnErrorNamingTheFileAndKeepsTheOldOne() throws {
        let dir = try TemporaryDirectory()
        try AtomicFile.write(text: "old", to: dir.file("a.json"))
        chmod(dir.path, 0o555)
        defer { chmod(dir.path, 0o755) }
        let error = try #require(throws: ExportError.self) { try AtomicFile.write(text: "new", to: dir.file("a.json")) }
        #expect(error.description.hasPrefix(dir.file("a.json")))
        #expect(try entries(dir) == ["a.json"])
        #expect(try String(contentsOfFile: dir.file("a.json"), encoding: .utf8) == "old")
    }
}
