internal import CZstd
import Foundation

/// Compact storage for cached patches: float16 values, uint8 labels, and zstd frames.
enum CompactCodec {
    static func float16Bytes(_ values: [Float]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: values.count * 2)
        out.withUnsafeMutableBytes { raw in
            let p = raw.bindMemory(to: UInt16.self)
            for i in values.indices { p[i] = Float16(values[i]).bitPattern.littleEndian }
        }
        return out
    }

    static func floats(float16 bytes: ArraySlice<UInt8>, count: Int) throws -> [Float] {
        guard bytes.count == count * 2 else {
            throw CacheError("float16 section holds \(bytes.count) bytes, expected \(count * 2)")
        }
        var out = [Float](repeating: 0, count: count)
        bytes.withUnsafeBytes { raw in
            for i in 0..<count {
                let bits = UInt16(raw[2 * i]) | UInt16(raw[2 * i + 1]) << 8
                out[i] = Float(Float16(bitPattern: bits))
            }
        }
        return out
    }

    static func compress(_ bytes: [UInt8], level: Int32 = 3) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: ZSTD_compressBound(bytes.count))
        let n = out.withUnsafeMutableBytes { dst in
            bytes.withUnsafeBytes { src in ZSTD_compress(dst.baseAddress, dst.count, src.baseAddress, src.count, level)
            }
        }
        if ZSTD_isError(n) != 0 { throw CacheError("zstd: \(String(cString: ZSTD_getErrorName(n)))") }
        out.removeSubrange(n...)
        return out
    }

    static func decompress(_ bytes: [UInt8]) throws -> [UInt8] {
        let size = bytes.withUnsafeBytes { ZSTD_getFrameContentSize($0.baseAddress, $0.count) }
        // ZSTD_CONTENTSIZE_UNKNOWN / _ERROR are the two largest values; ZSTD_compress always records the size.
        guard size < UInt64.max - 1, size < 1 << 34 else {
            throw CacheError("zstd: the frame does not record a usable size")
        }
        var out = [UInt8](repeating: 0, count: Int(size))
        let n = out.withUnsafeMutableBytes { dst in
            bytes.withUnsafeBytes { src in ZSTD_decompress(dst.baseAddress, dst.count, src.baseAddress, src.count) }
        }
        if ZSTD_isError(n) != 0 { throw CacheError("zstd: \(String(cString: ZSTD_getErrorName(n)))") }
        guard n == out.count else { throw CacheError("zstd: \(n) bytes decoded, the frame said \(out.count)") }
        return out
    }

    /// A record: magic, the header's length, the JSON header, then the binary sections.
    static func pack<Header: Encodable>(magic: String, header: Header, sections: [[UInt8]]) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = [UInt8](try encoder.encode(header))
        var raw = Array(magic.utf8)
        withUnsafeBytes(of: UInt32(json.count).littleEndian) { raw += $0 }
        raw += json
        for s in sections { raw += s }
        return try compress(raw)
    }

    /// The header and the bytes after it.
    static func unpack<Header: Decodable>(magic: String, _ compressed: [UInt8], as: Header.Type) throws -> (
        Header, ArraySlice<UInt8>
    ) {
        let raw = try decompress(compressed)
        let m = Array(magic.utf8)
        guard raw.count >= m.count + 4, Array(raw[0..<m.count]) == m else { throw CacheError("not a \(magic) record") }
        let length =
            Int(raw[m.count]) | Int(raw[m.count + 1]) << 8 | Int(raw[m.count + 2]) << 16 | Int(raw[m.count + 3]) << 24
        let start = m.count + 4
        guard raw.count >= start + length else { throw CacheError("truncated \(magic) header") }
        let header = try JSONDecoder().decode(Header.self, from: Data(raw[start..<(start + length)]))
        return (header, raw[(start + length)...])
    }
}

/// A cache or retraining failure: one line naming the file or step and the reason.
public struct CacheError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
