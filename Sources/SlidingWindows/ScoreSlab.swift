import Volumes

/// Final, averaged class scores for a run of whole slices of the prepared volume.
public struct ScoreSlab: Sendable {
    /// Slice indices (k) of the prepared volume this slab covers.
    public let slices: Range<Int>
    /// In-plane size (i, j) of the prepared volume; `k` is the slab's depth.
    public let size: Extent3
    public let classCount: Int
    /// Class-major scores: `scores[c * size.count + i + size.i * (j + size.j * k)]`.
    public let scores: [Float]

    public init(slices: Range<Int>, size: Extent3, classCount: Int, scores: [Float]) {
        precondition(scores.count == classCount * size.count && size.k == slices.count)
        self.slices = slices
        self.size = size
        self.classCount = classCount
        self.scores = scores
    }

    /// The class with the highest score at each voxel (the first on ties), i fastest.
    public func argmax() -> [UInt8] {
        let n = size.count
        var best = Array(scores[0..<n])
        var labels = [UInt8](repeating: 0, count: n)
        for c in 1..<classCount {
            let base = c * n
            for v in 0..<n where scores[base + v] > best[v] {
                best[v] = scores[base + v]
                labels[v] = UInt8(c)
            }
        }
        return labels
    }
}
