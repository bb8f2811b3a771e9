import Phantom

/// Gaussian values on a coarse lattice (up to four components per node), read back with
/// smoothstep-weighted trilinear interpolation: eight lattice reads per sample whatever the
/// feature size, unlike a sum of waves.
struct NoiseLattice: Sendable {
    let spacing: Double  // lattice spacing in mm
    let origin: SIMD3<Double>  // mm position of lattice node (0, 0, 0)
    let size: (Int, Int, Int)
    let values: [SIMD4<Float>]

    /// A lattice covering `lower...upper` (mm) with one node beyond each end; `components`
    /// Gaussian draws per node, the rest 0.
    init(lower: SIMD3<Double>, upper: SIMD3<Double>, spacing: Double, components: Int, using rng: inout SeededGenerator)
    {
        self.spacing = spacing
        origin = lower - spacing
        let extent = (upper - lower) / spacing
        size = (Int(extent.x) + 4, Int(extent.y) + 4, Int(extent.z) + 4)
        values = (0..<(size.0 * size.1 * size.2)).map { _ in
            var v = SIMD4<Float>.zero
            for c in 0..<components { v[c] = Float(rng.gaussian()) }
            return v
        }
    }

    /// Roughly standard normal per component (the interpolation shrinks the spread a little).
    @inline(__always) func sample(_ p: SIMD3<Double>) -> SIMD4<Float> {
        let q = (p - origin) / spacing
        let fx = max(0, min(Double(size.0) - 1.001, q.x))
        let fy = max(0, min(Double(size.1) - 1.001, q.y))
        let fz = max(0, min(Double(size.2) - 1.001, q.z))
        let x0 = Int(fx)
        let y0 = Int(fy)
        let z0 = Int(fz)
        func smooth(_ t: Double) -> Float { Float(t * t * (3 - 2 * t)) }
        let tx = smooth(fx - Double(x0))
        let ty = smooth(fy - Double(y0))
        let tz = smooth(fz - Double(z0))
        let sy = size.0
        let sz = size.0 * size.1
        let b = x0 + sy * y0 + sz * z0
        return values.withUnsafeBufferPointer { v in
            let c00 = v[b] + tx * (v[b + 1] - v[b])
            let c10 = v[b + sy] + tx * (v[b + sy + 1] - v[b + sy])
            let c01 = v[b + sz] + tx * (v[b + sz + 1] - v[b + sz])
            let c11 = v[b + sz + sy] + tx * (v[b + sz + sy + 1] - v[b + sz + sy])
            let c0 = c00 + ty * (c10 - c00)
            let c1 = c01 + ty * (c11 - c01)
            return (c0 + tz * (c1 - c0)) * 1.6
        }
    }
}

/// Smooth scalar noise: texture, vessel networks and bowel-loop walls come from it.
struct ValueNoise: Sendable {
    let lattice: NoiseLattice

    init(lower: SIMD3<Double>, upper: SIMD3<Double>, spacing: Double, using rng: inout SeededGenerator) {
        lattice = NoiseLattice(lower: lower, upper: upper, spacing: spacing, components: 1, using: &rng)
    }

    @inline(__always) func value(_ p: SIMD3<Double>) -> Float { lattice.sample(p).x }
}

/// Smooth vector noise (a displacement field): one interpolation reads all three components.
struct VectorNoise: Sendable {
    let lattice: NoiseLattice

    init(lower: SIMD3<Double>, upper: SIMD3<Double>, spacing: Double, using rng: inout SeededGenerator) {
        lattice = NoiseLattice(lower: lower, upper: upper, spacing: spacing, components: 3, using: &rng)
    }

    @inline(__always) func value(_ p: SIMD3<Double>) -> SIMD3<Double> {
        let r = lattice.sample(p)
        return SIMD3(Double(r.x), Double(r.y), Double(r.z))
    }
}
