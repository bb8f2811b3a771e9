import Foundation
import Ingest
import PhantomDicom
import TestSupport
import Testing
import Volumes

/// `lcovnet convert` on bad input: one line on stderr naming the path and the reason, the
/// documented exit code, and never a crash (a signal would show as another status).
@Suite(.enabled(if: IngestFixtures.executable != nil, "needs the built lcovnet executable"))
struct ConvertCommandTests {
    func convert(_ arguments: [String]) throws -> ReferenceTools.Result {
        try ReferenceTools.run(IngestFixtures.executable!, ["convert"] + arguments)
    }

    func expectOneLine(_ result: ReferenceTools.Result, exitCode: Int32, mentioning text: String, code: IngestCode) {
        #expect(result.status == exitCode, "stderr: \(result.stderr)")
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "stderr: \(result.stderr)")
        #expect(result.stderr.contains(text))
        #expect(result.stderr.contains("[\(code.rawValue)]"))
    }

    @Test func missingFolder() throws {
        let directory = try TemporaryDirectory("cli")
        let result = try convert([directory.file("nowhere"), "-o", directory.file("out.nii")])
        expectOneLine(result, exitCode: 3, mentioning: directory.file("nowhere"), code: .noInput)
    }

    @Test func emptyFolder() throws {
        let directory = try TemporaryDirectory("cli")
        try FileManager.default.createDirectory(atPath: directory.file("empty"), withIntermediateDirectories: true)
        let result = try convert([directory.file("empty"), "-o", directory.file("out.nii")])
        expectOneLine(result, exitCode: 3, mentioning: directory.file("empty"), code: .noInput)
    }

    @Test func noDicomAtAll() throws {
        let directory = try TemporaryDirectory("cli")
        try Data("just some notes\n".utf8).write(
            to: URL(fileURLWithPath: directory.file("in/notes.txt")).creatingFolder())
        let result = try convert([directory.file("in"), "-o", directory.file("out.nii")])
        expectOneLine(result, exitCode: 4, mentioning: "notes.txt", code: .notDicom)
    }

    @Test func randomBytes() throws {
        let directory = try TemporaryDirectory("cli")
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<70_000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        for name in ["a.dcm", "b.dcm"] {
            try Data(bytes.shuffled()).write(to: URL(fileURLWithPath: directory.file("in/\(name)")).creatingFolder())
        }
        let result = try convert([directory.file("in"), "-o", directory.file("out.nii")])
        expectOneLine(result, exitCode: 4, mentioning: directory.file("in"), code: .notDicom)
    }

    /// Random bytes behind a real DICOM preamble and "DICM" marker reach DCMTK itself.
    @Test func randomBytesBehindADicomMarker() throws {
        let directory = try TemporaryDirectory("cli")
        var bytes = [UInt8](repeating: 0, count: 128) + Array("DICM".utf8)
        var generator = SplitMix64(seed: 7)
        bytes += (0..<10_000).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        try Data(bytes).write(to: URL(fileURLWithPath: directory.file("in/x.dcm")).creatingFolder())
        let result = try convert([directory.file("in"), "-o", directory.file("out.nii")])
        #expect([4, 5].contains(result.status), "stderr: \(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1)
    }

    @Test func truncatedFiles() throws {
        let directory = try TemporaryDirectory("cli")
        let written = try DicomSeriesWriter().write(IngestFixtures.volume(), to: directory.file("in"))
        // Every file loses its last 1000 bytes: the headers still parse, the pixels are short.
        for file in written.files {
            let data = try Data(contentsOf: URL(fileURLWithPath: file))
            try data.prefix(data.count - 1000).write(to: URL(fileURLWithPath: file))
        }
        let result = try convert([directory.file("in"), "-o", directory.file("out.nii")])
        #expect([4, 7].contains(result.status), "stderr: \(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(result.stderr.contains(directory.file("in")))
        #expect(!FileManager.default.fileExists(atPath: directory.file("out.nii")))
    }

    /// One damaged file at the end of the stack cannot be told from a shorter series: the folder is
    /// rejected unless the damaged file may be skipped.
    @Test func oneTruncatedFileRejectsTheFolderByDefault() throws {
        let directory = try TemporaryDirectory("cli")
        let written = try DicomSeriesWriter().write(IngestFixtures.volume(), to: directory.file("in"))
        let data = try Data(contentsOf: URL(fileURLWithPath: written.files[0]))
        try data.prefix(3000).write(to: URL(fileURLWithPath: written.files[0]))
        let result = try convert([directory.file("in"), "-o", directory.file("out.nii")])
        expectOneLine(result, exitCode: 4, mentioning: written.files[0], code: .corrupt)
        let skipped = try convert([directory.file("in"), "-o", directory.file("out.nii"), "--damaged-files", "repair"])
        #expect(skipped.status == 0)
        #expect(skipped.stdout.contains("64×48×19"))
        #expect(skipped.stderr.contains("1 file(s) left out [corrupt]"))
    }

    @Test func unknownSeries() throws {
        let directory = try TemporaryDirectory("cli")
        try DicomSeriesWriter().write(IngestFixtures.volume(), to: directory.file("in"))
        let result = try convert([directory.file("in"), "-o", directory.file("out.nii"), "--series", "1.2.3"])
        expectOneLine(result, exitCode: 6, mentioning: "1.2.3", code: .seriesNotFound)
    }

    @Test func listAndConvertTheSameFolder() throws {
        let directory = try TemporaryDirectory("cli")
        var second = DicomWriterOptions(transferSyntax: .jpegLS)
        second.seriesNumber = 2
        let big = try DicomSeriesWriter().write(IngestFixtures.volume(), to: directory.file("in"))
        try DicomSeriesWriter(second).write(IngestFixtures.volume(size: Extent3(64, 48, 5)), to: directory.file("in"))
        let list = try convert([directory.file("in"), "--list"])
        #expect(list.status == 0)
        #expect(list.stdout.contains("* \(big.seriesInstanceUID)"))
        let result = try convert([directory.file("in"), "-o", directory.file("out.nii.zst")])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.stdout.contains(big.seriesInstanceUID) && result.stdout.contains("1 other eligible series"))
        #expect(FileManager.default.fileExists(atPath: directory.file("out.nii.zst")))
    }

    @Test func badOutputName() throws {
        let directory = try TemporaryDirectory("cli")
        let result = try convert([directory.path, "-o", directory.file("out.png")])
        #expect(result.status == 64)
    }
}

extension URL {
    /// Creates the parent folder and returns the URL, for writing fixtures in one line.
    func creatingFolder() throws -> URL {
        try FileManager.default.createDirectory(at: deletingLastPathComponent(), withIntermediateDirectories: true)
        return self
    }
}
