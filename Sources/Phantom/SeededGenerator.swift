import Volumes

/// The phantom's random source: SplitMix64 (whose sequence depends only on its seed, so that a
/// phantom is the same on every machine and every run) with the draws a phantom needs.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var core: SplitMix64

    public init(seed: UInt64) { core = SplitMix64(seed: seed &+ 0x9E37_79B9_7F4A_7C15) }

    public mutating func next() -> UInt64 { core.next() }

    /// A uniform value in `range`.
    public mutating func uniform(_ range: ClosedRange<Double>) -> Double { Double.random(in: range, using: &self) }

    /// True with probability `p` (one uniform draw).
    public mutating func chance(_ p: Double) -> Bool { uniform(0...1) < p }

    /// A normally distributed value (Box–Muller).
    public mutating func gaussian(mean: Double = 0, sigma: Double = 1) -> Double {
        let u1 = max(Double.random(in: 0..<1, using: &self), 1e-300)
        let u2 = Double.random(in: 0..<1, using: &self)
        return mean + sigma * (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
    }

    /// An independent generator for a named part, so adding a part never shifts the others.
    public func fork(_ salt: UInt64) -> SeededGenerator {
        var copy = SeededGenerator(seed: core.state ^ (salt &* 0xD6E8_FEB8_6659_FD93))
        _ = copy.next()
        return copy
    }
}

#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif
