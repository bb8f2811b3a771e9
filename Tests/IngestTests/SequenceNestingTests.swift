import CZlib
import Foundation
import Ingest
import TestSupport
import Testing
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
        let deep = try #require(
            try Self.note(
                for: DicomBytes.nestedSequences(depth: 50_000, implicitVR: implicitVR, definedLengths: definedLengths)))
        #expect(deep.code == .corrupt && deep.detail?.contains("nest deeper than \(limit) levels") == true, "\(deep)")
        // One level is a sequence and its item: depth/2 levels of each stay within the limit.
        let within = try Self.note(
            for: DicomBytes.nestedSequences(depth: limit / 2, implicitVR: implicitVR, definedLengths: definedLengths))
        #expect(within?.detail?.contains("nest deeper") != true, "\(String(describing: within))")
        let beyond = try #require(
            try Self.note(
                for: DicomBytes.nestedSequences(
                    depth: limit / 2 + 1, implicitVR: implicitVR, definedLengths: definedLengths)))
        #expect(beyond.code == .corrupt && beyond.detail?.contains("nest deeper") == true, "\(beyond)")
    }

    /// A deflated dataset is walked as it inflates: the same nesting hidden behind deflate (1 MB
    /// of sequences in a file of 5-180 KB) is refused before DCMTK inflates and parses it.
    @Test(arguments: [false, true])
    func aDeflatedFileNestedDeeperThanTheLimitIsCorrupt(definedLengths: Bool) throws {
        let limit = Plausibility.maxSequenceNesting
        func deflated(depth: Int) throws -> Data {
            let plain = DicomBytes.nestedSequences(
                depth: depth, definedLengths: definedLengths, transferSyntax: "1.2.840.10008.1.2.1.99")
            let metaEnd = 144 + plain[140..<144].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
            return plain.prefix(metaEnd) + (try Self.rawDeflate([UInt8](plain.suffix(from: metaEnd))))
        }
        let bomb = try deflated(depth: 50_000)
        #expect(bomb.count < 256 << 10)
        let deep = try #require(try Self.note(for: bomb))
        #expect(deep.code == .corrupt && deep.detail?.contains("nest deeper than \(limit) levels") == true, "\(deep)")
        let within = try Self.note(for: try deflated(depth: limit / 2))
        #expect(within?.detail?.contains("nest deeper") != true, "\(String(describing: within))")
        let beyond = try #require(try Self.note(for: try deflated(depth: limit / 2 + 1)))
        #expect(beyond.code == .corrupt && beyond.detail?.contains("nest deeper") == true, "\(beyond)")
    }

    /// `bytes` as a raw deflate stream (no zlib header), as the deflated transfer syntax has it.
    static func rawDeflate(_ bytes: [UInt8]) throws -> Data {
        var z = z_stream()
        guard
            deflateInit2_(
                &z, 9, Z_DEFLATED, -MAX_WBITS, 9, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
                == Z_OK
        else {
            throw IngestError(.unreadable, path: "zlib", detail: "deflateInit2 failed")
        }
        defer { deflateEnd(&z) }
        var input = bytes
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&z, uLong(bytes.count))) + 64)
        let status = input.withUnsafeMutableBufferPointer { inp in
            output.withUnsafeMutableBufferPointer { out in
                z.next_in = inp.baseAddress
                z.avail_in = uInt(inp.count)
                z.next_out = out.baseAddress
                z.avail_out = uInt(out.count)
                return deflate(&z, Z_FINISH)
            }
        }
        guard status == Z_STREAM_END else {
            throw IngestError(.unreadable, path: "zlib", detail: "deflate returned \(status)")
        }
        return Data(output.prefix(output.count - Int(z.avail_out)))
    }
}
