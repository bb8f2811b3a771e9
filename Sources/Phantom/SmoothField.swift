#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// A smooth random scalar field: a sum of a few plane waves. Deforms organ outlines and
/// modulates tissue texture at low cost per voxel.
struct SmoothField: Sendable {
    private var waves: [(direction: SIMD3<Double>, phase: Double, amplitude: Double)]

    /// `wavelength` in mm sets the scale of the features; values stay within ±`amplitude`.
    init(wavelength: Double, amplitude: Double, count: Int = 4, using rng: inout SeededGenerator) {
        waves = (0..<count).map { _ in
            var d = SIMD3(rng.gaussian(), rng.gaussian(), rng.gaussian())
            let len = (d * d).sum().squareRoot()
            d = d / max(len, 1e-9) * (2 * .pi / (wavelength * rng.uniform(0.7...1.3)))
            return (d, rng.uniform(0...(2 * .pi)), amplitude / Double(count))
        }
    }

    func value(at p: SIMD3<Double>) -> Double {
        var sum = 0.0
        for w in waves { sum += w.amplitude * sin((w.direction * p).sum() + w.phase) }
        return sum
    }
}
