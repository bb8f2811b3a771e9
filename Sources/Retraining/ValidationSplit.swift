import Volumes

/// Which series validate a round: fixed by a hash of the SeriesInstanceUID, so a series stays on
/// its side in every round whatever else the cache holds (the split never reshuffles, unlike
/// a random split drawn per round), and scores of successive rounds compare.
public enum ValidationSplit {
    public static func isValidation(seriesUID: String, percent: Int) -> Bool {
        Int(bucket(seriesUID)) < percent
    }

    /// 0..<100: FNV-1a of the UID, then SplitMix64's finalizer (FNV's low bits alone barely
    /// change between UIDs that differ in their last digit).
    static func bucket(_ seriesUID: String) -> UInt64 {
        var z = StableHash.fnv1a("lcovnet-validation:" + seriesUID)
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return (z ^ (z >> 31)) % 100
    }
}
