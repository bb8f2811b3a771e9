import Volumes

/// Hands out prepared-grid scores on request, for callers that pull (a finished full-volume
/// map, or a merger that keeps its finalized planes). Requests come with nondecreasing lower
/// bounds when the scan's k axis runs along the prepared k axis without a flip, so a provider
/// may then free planes below the last request.
public protocol PreparedScoreProvider {
    var classCount: Int { get }
    /// Scores for prepared planes `k`, exactly that range.
    func scores(preparedK k: Range<Int>) throws -> ScoreSlab
}
