/// Tubes in patient space (polylines with a radius at each point), sampled every millimetre and
/// bucketed by slice, so a slice paints the discs of exactly the tubes that cross it. A disc
/// of radius √(r² − dz²) at each sample reproduces the tube's cross-section well enough at the
/// scales involved (vessels, psoas, femoral necks and shafts).
struct TubeSet {
    struct Sample {
        var x: Double
        var y: Double
        var z: Double
        var radius: Double
        var tube: Int
    }
    struct Tube {
        var tissue: Tissue
        /// Bone: a cortical shell this thick (mm) around `tissue`; 0 for a solid tube.
        var shell: Double = 0
        /// Clutter and mesenteric vessels only replace visceral fat.
        var onlyInFat = false
        /// A tissue code of its own (64 + n: the painter's n-th custom HU, for clutter).
        var code: UInt8? = nil
    }
    var tubes: [Tube] = []
    private var samples: [Sample] = []

    mutating func add(_ points: [SIMD3<Double>], radii: [Double], _ tube: Tube) {
        guard points.count >= 2, points.count == radii.count else { return }
        let id = tubes.count
        tubes.append(tube)
        for n in 0..<(points.count - 1) {
            let a = points[n]
            let b = points[n + 1]
            let length = ((b - a) * (b - a)).sum().squareRoot()
            let steps = max(1, Int(length.rounded(.up)))
            for s in 0...steps where s < steps || n == points.count - 2 {
                let t = Double(s) / Double(steps)
                let p = a + (b - a) * t
                samples.append(
                    Sample(x: p.x, y: p.y, z: p.z, radius: radii[n] + (radii[n + 1] - radii[n]) * t, tube: id))
            }
        }
    }

    /// Per slice z (mm): the samples whose disc reaches it, with the disc's radius there.
    func bucketed(slices: [Double]) -> [[Sample]] {
        var out = [[Sample]](repeating: [], count: slices.count)
        guard let z0 = slices.first else { return out }
        let dz = slices.count > 1 ? slices[1] - slices[0] : 1
        for s in samples {
            let lo = max(0, Int(((s.z - s.radius - z0) / dz).rounded(.up)))
            let hi = min(slices.count - 1, Int(((s.z + s.radius - z0) / dz).rounded(.down)))
            guard lo <= hi else { continue }
            for k in lo...hi {
                let d = slices[k] - s.z
                let r2 = s.radius * s.radius - d * d
                guard r2 > 0 else { continue }
                var c = s
                c.radius = r2.squareRoot()
                out[k].append(c)
            }
        }
        // Paint order: tube by tube, as added.
        return out.map { $0.sorted { $0.tube < $1.tube } }
    }
}
