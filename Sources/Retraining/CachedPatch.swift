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
        try CompactCodec.pack(
            magic: Self.magic, header: header, sections: [CompactCodec.float16Bytes(image), studentLabels])
    }

    static func decode(_ bytes: [UInt8], source: String) throws -> CachedPatch {
        do {
            let (header, rest) = try CompactCodec.unpack(magic: magic, bytes, as: Header.self)
            let n = header.window.reduce(1, *)
            guard rest.count == 3 * n else {
                throw CacheError("holds \(rest.count) bytes of voxels, expected \(3 * n)")
            }
            let image = try CompactCodec.floats(float16: rest.prefix(2 * n), count: n)
            return CachedPatch(header: header, image: image, studentLabels: Array(rest.suffix(n)))
        } catch {
            throw CacheError("\(source): \(error)")
        }
    }
}

/// What the teacher said about one cached patch (written by the backfill, next to the patch):
/// its logits at the four scales, then its per-voxel feature norms at the four scales, float16.
struct TeacherRecord: Sendable {
    struct Header: Codable, Sendable {
        var patchID: String
        /// Which teacher (its file's name and SHA-free identity: size and modification time).
        var teacher: String
        var window: [Int]
        var classCount: Int
    }

    var header: Header
    var targets: TeacherTargets

    /// LCTEACH1 held one feature norm per scale (MSKD's former whole-tensor temperature); such
    /// records no longer decode, and the backfill asks the teacher again.
    static let magic = "LCTEACH2"

    func encoded() throws -> [UInt8] {
        try CompactCodec.pack(
            magic: Self.magic, header: header,
            sections: (targets.logits + targets.featureNorms).map(CompactCodec.float16Bytes))
    }

    static func decode(_ bytes: [UInt8], source: String) throws -> TeacherRecord {
        do {
            let (header, rest) = try CompactCodec.unpack(magic: magic, bytes, as: Header.self)
            var offset = rest.startIndex
            func section(_ n: Int, _ what: String) throws -> [Float] {
                guard rest.endIndex - offset >= 2 * n else { throw CacheError("truncated \(what)") }
                defer { offset += 2 * n }
                return try CompactCodec.floats(float16: rest[offset..<(offset + 2 * n)], count: n)
            }
            let voxels = (0..<4).map { s in header.window.map { $0 >> s }.reduce(1, *) }
            let logits = try (0..<4).map { s in try section(header.classCount * voxels[s], "logits at scale \(s)") }
            let norms = try (0..<4).map { s in try section(voxels[s], "feature norms at scale \(s)") }
            guard offset == rest.endIndex else {
                throw CacheError("\(rest.endIndex - offset) bytes past the feature norms")
            }
            return TeacherRecord(header: header, targets: TeacherTargets(logits: logits, featureNorms: norms))
        } catch {
            throw CacheError("\(source): \(error)")
        }
    }
}
