import Volumes

/// The two repairs that move voxels: gantry-tilt correction within slices, and linear
/// interpolation between slices onto a regular grid.
enum SliceResampling {
    /// Shifts each slice k by `shifts[k]` (columns, DICOM rows) with bilinear interpolation, so
    /// that every slice lands on the first slice's in-plane grid. Voxels from outside the slice
    /// take the slice's minimum (air in CT).
    static func correctTilt(_ volume: Volume<Int16>, shifts: [SIMD2<Double>]) -> Volume<Int16> {
        let s = volume.size
        var out = volume
        for k in 0..<s.k {
            let shift = shifts[k]
            // Stored rows run bottom-up (j = Rows−1−row), so a shift of +1 DICOM row is −1 in j.
            let di = shift.x, dj = -shift.y
            if abs(di) < 1e-6 && abs(dj) < 1e-6 { continue }
            let base = k * s.i * s.j
            let fill = volume.voxels[base..<(base + s.i * s.j)].min() ?? 0
            for j in 0..<s.j {
                for i in 0..<s.i {
                    // Target voxel (i, j) shows the tissue at (i + di, j + dj) of the original slice.
                    let x = Double(i) + di, y = Double(j) + dj
                    let x0 = Int(x.rounded(.down)), y0 = Int(y.rounded(.down))
                    let fx = x - Double(x0), fy = y - Double(y0)
                    func sample(_ a: Int, _ b: Int) -> Double {
                        a >= 0 && a < s.i && b >= 0 && b < s.j ? Double(volume.voxels[base + a + b * s.i]) : Double(fill)
                    }
                    let v = (1 - fy) * ((1 - fx) * sample(x0, y0) + fx * sample(x0 + 1, y0))
                        + fy * ((1 - fx) * sample(x0, y0 + 1) + fx * sample(x0 + 1, y0 + 1))
                    out.voxels[base + i + j * s.i] = Int16(clamping: Int(v.rounded()))
                }
            }
        }
        return out
    }

    /// Linear interpolation along k from slices at `locations` to slices at `targets` (both
    /// ascending, in mm along the normal). Targets that coincide with a source slice copy it.
    static func resampleAlongK(_ volume: Volume<Int16>, from locations: [Double], to targets: [Double],
                               geometry: Geometry) -> Volume<Int16> {
        let n = volume.size.i * volume.size.j
        var voxels = [Int16](repeating: 0, count: n * targets.count)
        var upper = 1
        for (t, z) in targets.enumerated() {
            while upper < locations.count - 1 && locations[upper] < z { upper += 1 }
            let lower = max(0, upper - 1)
            let span = locations[upper] - locations[lower]
            let w = span > 0 ? min(1, max(0, (z - locations[lower]) / span)) : 0
            let a = lower * n, b = upper * n, o = t * n
            if w < 1e-6 {
                for v in 0..<n { voxels[o + v] = volume.voxels[a + v] }
            } else if w > 1 - 1e-6 {
                for v in 0..<n { voxels[o + v] = volume.voxels[b + v] }
            } else {
                for v in 0..<n {
                    let value = (1 - w) * Double(volume.voxels[a + v]) + w * Double(volume.voxels[b + v])
                    voxels[o + v] = Int16(clamping: Int(value.rounded()))
                }
            }
        }
        var g = geometry
        g.size.k = targets.count
        return Volume(geometry: g, voxels: voxels)
    }
}
