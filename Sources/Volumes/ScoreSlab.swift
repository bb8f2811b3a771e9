/// Class scores (logits, averaged window scores or probabilities) for a run of whole planes
/// of a grid: what the sliding-window merger hands out and what the labeler takes back to
/// the scan's grid, one value passed along without a copy.
///
/// Layout `[c][k][j][i]`: class outermost, then the slab's planes, rows and columns (PyTorch's
/// and oneDNN's plain NCDHW with N = 1, restricted to the planes `slices`).
public struct ScoreSlab: Sendable {
    /// Plane indices (k) of the grid this slab covers.
    public var slices: Range<Int>
    /// In-plane size (i, j) of the grid; `k` is the slab's depth.
    public var size: Extent3
    public var classCount: Int
    /// `scores[c * size.count + i + size.i * (j + size.j * k)]`, k counted from `slices.lowerBound`.
    public var scores: [Float]

    public init(slices: Range<Int>, size: Extent3, classCount: Int, scores: [Float]) {
        precondition(size.k == slices.count, "a slab of planes \(slices) cannot be \(size.k) planes deep")
        precondition(
            scores.count == classCount * size.count,
            "a slab of \(classCount) classes × \(size) needs \(classCount * size.count) scores, got \(scores.count)")
        self.slices = slices
        self.size = size
        self.classCount = classCount
        self.scores = scores
    }

    /// Voxels in one plane.
    public var planeSize: Int { size.i * size.j }
    /// Distance between one class's scores and the next's.
    public var channelStride: Int { size.count }

    /// The class with the highest score at each voxel (the first on ties), i fastest; planes
    /// spread over `threads`.
    public func argmax(threads: Int = 1) -> [UInt8] {
        let plane = planeSize
        let channel = channelStride
        let classes = classCount
        var labels = [UInt8](repeating: 0, count: size.count)
        scores.withUnsafeBufferPointer { s in
            labels.withUnsafeMutableBufferPointer { out in
                let out = out
                Parallel.forEach(size.k, threads: threads) { k in
                    for v in (k * plane)..<((k + 1) * plane) {
                        var best = s[v]
                        var winner: UInt8 = 0
                        for c in 1..<max(classes, 1) where s[c * channel + v] > best {
                            best = s[c * channel + v]
                            winner = UInt8(c)
                        }
                        out[v] = winner
                    }
                }
            }
        }
        return labels
    }
}
