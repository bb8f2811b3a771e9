import Testing
import Volumes

@testable import Retraining

@Suite struct ValidationSplitTests {
    @Test func aSeriesKeepsItsSideWhateverElseArrives() {
        let first = (0..<500).map { "1.2.840.113619.2.55.3.\($0 * 7919)" }
        let sides = first.map { ValidationSplit.isValidation(seriesUID: $0, percent: 20) }
        // More series arrive, in another order: the sides of the first ones do not move.
        let more = (0..<2000).map { "2.25.\($0 * 104729)" } + first.reversed()
        var seen: [String: Bool] = [:]
        for uid in more { seen[uid] = ValidationSplit.isValidation(seriesUID: uid, percent: 20) }
        #expect(first.map { seen[$0]! } == sides)
        // About the configured share.
        let share = Double(seen.values.filter { $0 }.count) / Double(seen.count)
        #expect(share > 0.17 && share < 0.23, "validation share \(share)")
    }

    @Test func theSplitIsPinnedAcrossReleases() {
        // The bucket of a UID: a change here would reshuffle every site's split.
        #expect(StableHash.fnv1a("") == 0xcbf2_9ce4_8422_2325)
        #expect(StableHash.fnv1a("a") == 0xaf63_dc4c_8601_ec8c)
        let uids = (0..<8).map { "2.25.1000\($0)" }
        let buckets = uids.map { Int(ValidationSplit.bucket($0)) }
        #expect(buckets == Self.pinned, "\(buckets)")
    }

    static let pinned: [Int] = [61, 24, 76, 27, 2, 39, 16, 60]
}
