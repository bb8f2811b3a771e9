#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// A solid in patient space (LPS, mm): an axis-aligned bounding box and an inside test.
protocol Shape: Sendable {
    var bounds: (min: SIMD3<Double>, max: SIMD3<Double>) { get }
    func contains(_ p: SIMD3<Double>) -> Bool
}

/// An ellipsoid turned about the z axis, its surface pushed in and out by a smooth field.
struct Blob: Shape {
    var center: SIMD3<Double>
    var semiAxes: SIMD3<Double>
    var yaw: Double = 0
    /// Relative radial deformation (±fraction of the radius).
    var deformation: SmoothField?
    /// Points with (p - center)·normal > offset are cut away (a flat side, e.g. the liver's).
    var cut: (normal: SIMD3<Double>, offset: Double)?

    var bounds: (min: SIMD3<Double>, max: SIMD3<Double>) {
        let r = max(semiAxes.x, semiAxes.y) * 1.3
        let extent = SIMD3(r, r, semiAxes.z * 1.3)
        return (center - extent, center + extent)
    }

    func contains(_ p: SIMD3<Double>) -> Bool {
        let d = p - center
        if let cut, (d * cut.normal).sum() > cut.offset * (1 + 2 * (deformation?.value(at: p * 1.7) ?? 0)) {
            return false
        }
        let c = cos(yaw)
        let s = sin(yaw)
        let local = SIMD3(c * d.x + s * d.y, -s * d.x + c * d.y, d.z) / semiAxes
        let r2 = (local * local).sum()
        if r2 > 1.7 { return false }
        let scale = 1 + (deformation?.value(at: p) ?? 0)
        return r2 <= scale * scale
    }
}

/// A tube of varying radius along a polyline (oesophagus, bowel, vessels).
struct Tube: Shape {
    var points: [SIMD3<Double>]
    var radii: [Double]
    var deformation: SmoothField?

    init(points: [SIMD3<Double>], radius: Double, deformation: SmoothField? = nil) {
        self.init(points: points, radii: Array(repeating: radius, count: points.count), deformation: deformation)
    }

    init(points: [SIMD3<Double>], radii: [Double], deformation: SmoothField? = nil) {
        precondition(points.count >= 2 && points.count == radii.count)
        self.points = points
        self.radii = radii
        self.deformation = deformation
    }

    var bounds: (min: SIMD3<Double>, max: SIMD3<Double>) {
        let r = (radii.max() ?? 0) * 1.3
        var lo = points[0]
        var hi = points[0]
        for p in points {
            lo = pointwiseMin(lo, p)
            hi = pointwiseMax(hi, p)
        }
        return (lo - SIMD3(repeating: r), hi + SIMD3(repeating: r))
    }

    func contains(_ p: SIMD3<Double>) -> Bool {
        let scale = 1 + (deformation?.value(at: p) ?? 0)
        for n in 0..<(points.count - 1) {
            let a = points[n]
            let b = points[n + 1]
            let ab = b - a
            let t = min(max(((p - a) * ab).sum() / max((ab * ab).sum(), 1e-9), 0), 1)
            let q = a + t * ab - p
            let r = (radii[n] + t * (radii[n + 1] - radii[n])) * scale
            if (q * q).sum() <= r * r { return true }
        }
        return false
    }
}
