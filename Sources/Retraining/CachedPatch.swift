import Foundation
import Training

/// One cached window of a segmented series on the model's prepared grid: the normalised input
/// (float16) and the student's labels (uint8), D×H×W with W fastest.
public struct CachedPatch: Sendable {
    public struct Header: Codable, Sendable, Equatable {
        public var id: String
        public var seriesUID: String
        /// The window's first voxel on the prepared grid, [k, j, i] (may be negative: padded).
        public var origin: [Int]
        /// [D, H, W]
        public var window: [Int]
        /// Organs (class ids) of the student's labels in the window.
        public var organs: [Int]
    }

    public var header: Header
    public var image: [Float]
    public var studentLabels: [UInt8]

    static let magic = "LCPATCH1"

    func encoded() throws -> [UInt8] {
        try CompactCodec.pack(magic: Self.magic, header: header, sections: [CompactCodec.float16Bytes(image), studentLabels])
    }

    static func decode(_ bytes: [UInt8], source: String) throws -> CachedPatch {
        do {
            let (header, rest) = try CompactCodec.unpack(magic: magic, bytes, as: Header.self)
            let n = header.window.reduce(1, *)
            guard rest.count == 3 * n else { throw CacheError("holds \(rest.count) bytes of voxels, expected \(3 * n)") }
            let image = try CompactCodec.floats(float16: rest.prefix(2 * n), count: n)
            return CachedPatch(header: header, image: image, studentLabels: Array(rest.suffix(n)))
        } catch {
            throw CacheError("\(source): \(error)")
        }
    }
}

/// What the teacher said about one cached patch (written by the backfill, next to the patch).
struct TeacherRecord: Sendable {
    struct Header: Codable, Sendable {
        var patchID: String
        /// Which teacher (its file's name and SHA-free identity: size and modification time).
        var teacher: String
        var window: [Int]
        var classCount: Int
        var featureNorms: [Double]
    }

    var header: Header
    var targets: TeacherTargets

    static let magic = "LCTEACH1"

    func encoded() throws -> [UInt8] {
        try CompactCodec.pack(magic: Self.magic, header: header, sections: targets.logits.map(CompactCodec.float16Bytes))
    }

    static func decode(_ bytes: [UInt8], source: String) throws -> TeacherRecord {
        do {
            let (header, rest) = try CompactCodec.unpack(magic: magic, bytes, as: Header.self)
            var logits: [[Float]] = []
            var offset = rest.startIndex
            for s in 0..<4 {
                let n = header.classCount * header.window.map { $0 >> s }.reduce(1, *)
                guard rest.endIndex - offset >= 2 * n else { throw CacheError("truncated logits at scale \(s)") }
                logits.append(try CompactCodec.floats(float16: rest[offset..<(offset + 2 * n)], count: n))
                offset += 2 * n
            }
            guard header.featureNorms.count == 4 else { throw CacheError("needs 4 feature norms") }
            return TeacherRecord(header: header, targets: TeacherTargets(logits: logits, featureNorms: header.featureNorms))
        } catch {
            throw CacheError("\(source): \(error)")
        }
    }
}
