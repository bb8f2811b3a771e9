import Foundation
import Ingest
import Testing
import TestSupport
import Volumes

/// Sequences nested deeper than the limit are refused as `corrupt` before DCMTK reads the file
/// (its reader recurses once per level: 50 000 levels overflowed the stack and killed the process
/// that opened the file), in every encoding the walk knows; nesting at the limit still reads.
@Suite struct SequenceNestingTests {
    static func note(for data: Data) throws -> IngestNote? {
        let dir = try TemporaryDirectory()
        let file = dir.file("nested.dcm")
        try data.write(to: URL(fileURLWithPath: file))
        let scan = try DicomFolder.scan(dir.path)
        return scan.fileNotes.first { $0.path == file }
    }

    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func aFileNestedDeeperThanTheLimitIsCorrupt(implicitVR: Bool, definedLengths: Bool) throws {
        let limit = Plausibility.maxSequenceNesting
        let deep = try #require(try Self.note(for: DicomBytes.nestedSequences(depth: 50_000, implicitVR: implicitVR, definedLengths: definedLengths)))
        #expect(deep.code == .corrupt && deep.detail?.contains("nest deeper than \(limit) levels") == true, "\(deep)")
        // One level is a sequence and its item: depth/2 levels of each stay within the limit.
        let within = try Self.note(for: DicomBytes.nestedSequences(depth: limit / 2, implicitVR: implicitVR, definedLengths: definedLengths))
        #expect(within?.detail?.contains("nest deeper") != true, "\(String(describing: within))")
        let beyond = try #require(try Self.note(for: DicomBytes.nestedSequences(depth: limit / 2 + 1, implicitVR: implicitVR, definedLengths: definedLengths)))
        #expect(beyond.code == .corrupt && beyond.detail?.contains("nest deeper") == true, "\(beyond)")
    }
}
