/// Class scores (logits or probabilities) for a run of planes of the prepared grid.
///
/// Layout `[c][k][j][i]`: class outermost, then the slab's planes, rows and columns (PyTorch's
/// and oneDNN's plain NCDHW with N = 1, restricted to planes `kStart ..< kStart + kCount`).
public struct ScoreSlab: Sendable {
    public var kStart: Int
    public var kCount: Int
    public var classCount: Int
    /// Columns (i) and rows (j) of a plane: the prepared grid's size along i and j.
    public var sizeI: Int
    public var sizeJ: Int
    public var scores: [Float]

    public init(kStart: Int, kCount: Int, classCount: Int, sizeI: Int, sizeJ: Int, scores: [Float]) {
        precondition(scores.count == classCount * kCount * sizeI * sizeJ,
                     "a slab of \(classCount) classes × \(kCount) × \(sizeJ) × \(sizeI) needs \(classCount * kCount * sizeI * sizeJ) scores, got \(scores.count)")
        self.kStart = kStart
        self.kCount = kCount
        self.classCount = classCount
        self.sizeI = sizeI
        self.sizeJ = sizeJ
        self.scores = scores
    }

    public var kRange: Range<Int> { kStart..<(kStart + kCount) }
    var planeSize: Int { sizeI * sizeJ }
    var channelStride: Int { planeSize * kCount }
}

/// Hands out prepared-grid scores on request, for callers that pull (a finished full-volume
/// map, or a merger that keeps its finalized planes). Requests come with nondecreasing lower
/// bounds when the scan's k axis runs along the prepared k axis without a flip, so a provider
/// may then free planes below the last request.
public protocol PreparedScoreProvider {
    var classCount: Int { get }
    /// Scores for prepared planes `k`, exactly that range.
    func scores(preparedK k: Range<Int>) throws -> ScoreSlab
}
