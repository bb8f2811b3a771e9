import Phantom

/// Smooth random noise: Gaussian values on a coarse lattice, read back with smoothstep-weighted
/// trilinear interpolation. Texture, vessel networks and bowel-loop walls come from it; the cost
/// per voxel is eight lattice reads whatever the feature size, unlike a sum of waves.
struct ValueNoise: Sendable {
    let spacing: Double            // lattice spacing in mm
    let origin: SIMD3<Double>      // mm position of lattice node (0, 0, 0)
    let size: (Int, Int, Int)
    let values: [Float]

    /// A lattice covering `lower...upper` (mm) with one node beyond each end.
    init(lower: SIMD3<Double>, upper: SIMD3<Double>, spacing: Double, using rng: inout SeededGenerator) {
        self.spacing = spacing
        origin = lower - spacing
        let extent = (upper - lower) / spacing
        size = (Int(extent.x) + 4, Int(extent.y) + 4, Int(extent.z) + 4)
        values = (0..<(size.0 * size.1 * size.2)).map { _ in Float(rng.gaussian()) }
    }

    /// Roughly standard normal (the interpolation shrinks the spread a little).
    @inline(__always) func value(_ p: SIMD3<Double>) -> Float {
        let q = (p - origin) / spacing
        let fx = max(0, min(Double(size.0) - 1.001, q.x)), fy = max(0, min(Double(size.1) - 1.001, q.y))
        let fz = max(0, min(Double(size.2) - 1.001, q.z))
        let x0 = Int(fx), y0 = Int(fy), z0 = Int(fz)
        func smooth(_ t: Double) -> Float { Float(t * t * (3 - 2 * t)) }
        let tx = smooth(fx - Double(x0)), ty = smooth(fy - Double(y0)), tz = smooth(fz - Double(z0))
        let sx = 1, sy = size.0, sz = size.0 * size.1
        let b = x0 + sy * y0 + sz * z0
        return values.withUnsafeBufferPointer { v in
            let c00 = v[b] + tx * (v[b + sx] - v[b])
            let c10 = v[b + sy] + tx * (v[b + sy + sx] - v[b + sy])
            let c01 = v[b + sz] + tx * (v[b + sz + sx] - v[b + sz])
            let c11 = v[b + sz + sy] + tx * (v[b + sz + sy + sx] - v[b + sz + sy])
            let c0 = c00 + ty * (c10 - c00), c1 = c01 + ty * (c11 - c01)
            return (c0 + tz * (c1 - c0)) * 1.6
        }
    }
}

/// Three smooth noise components on one lattice (a displacement field): one interpolation
/// reads all three, a third of the cost of three `ValueNoise`.
struct VectorNoise: Sendable {
    let spacing: Double
    let origin: SIMD3<Double>
    let size: (Int, Int, Int)
    let values: [SIMD4<Float>]

    init(lower: SIMD3<Double>, upper: SIMD3<Double>, spacing: Double, using rng: inout SeededGenerator) {
        self.spacing = spacing
        origin = lower - spacing
        let extent = (upper - lower) / spacing
        size = (Int(extent.x) + 4, Int(extent.y) + 4, Int(extent.z) + 4)
        values = (0..<(size.0 * size.1 * size.2)).map { _ in
            SIMD4(Float(rng.gaussian()), Float(rng.gaussian()), Float(rng.gaussian()), 0)
        }
    }

    @inline(__always) func value(_ p: SIMD3<Double>) -> SIMD3<Double> {
        let q = (p - origin) / spacing
        let fx = max(0, min(Double(size.0) - 1.001, q.x)), fy = max(0, min(Double(size.1) - 1.001, q.y))
        let fz = max(0, min(Double(size.2) - 1.001, q.z))
        let x0 = Int(fx), y0 = Int(fy), z0 = Int(fz)
        func smooth(_ t: Double) -> Float { Float(t * t * (3 - 2 * t)) }
        let tx = smooth(fx - Double(x0)), ty = smooth(fy - Double(y0)), tz = smooth(fz - Double(z0))
        let sy = size.0, sz = size.0 * size.1
        let b = x0 + sy * y0 + sz * z0
        let r = values.withUnsafeBufferPointer { v -> SIMD4<Float> in
            let c00 = v[b] + tx * (v[b + 1] - v[b])
            let c10 = v[b + sy] + tx * (v[b + sy + 1] - v[b + sy])
            let c01 = v[b + sz] + tx * (v[b + sz + 1] - v[b + sz])
            let c11 = v[b + sz + sy] + tx * (v[b + sz + sy + 1] - v[b + sz + sy])
            let c0 = c00 + ty * (c10 - c00), c1 = c01 + ty * (c11 - c01)
            return (c0 + tz * (c1 - c0)) * 1.6
        }
        return SIMD3(Double(r.x), Double(r.y), Double(r.z))
    }
}
