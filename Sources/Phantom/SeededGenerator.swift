/// SplitMix64: a small, fast generator whose sequence depends only on its seed, so that a
/// phantom is the same on every machine and every run.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform value in `range`.
    public mutating func uniform(_ range: ClosedRange<Double>) -> Double { Double.random(in: range, using: &self) }

    /// A normally distributed value (Box–Muller).
    public mutating func gaussian(mean: Double = 0, sigma: Double = 1) -> Double {
        let u1 = max(Double.random(in: 0..<1, using: &self), 1e-300), u2 = Double.random(in: 0..<1, using: &self)
        return mean + sigma * (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
    }

    /// An independent generator for a named part, so adding a part never shifts the others.
    public func fork(_ salt: UInt64) -> SeededGenerator {
        var copy = SeededGenerator(seed: state ^ (salt &* 0xD6E8_FEB8_6659_FD93))
        _ = copy.next()
        return copy
    }
}

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
