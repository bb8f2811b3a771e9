import Volumes

/// The two repairs that move voxels: gantry-tilt correction within slices, and linear
/// interpolation between slices onto a regular grid.
enum SliceResampling {
    /// Moves each slice onto the output grid: along j by linear interpolation between rows
    /// (as dcm2niix's `_Tilt`, surrounding voxels set to the darkest value of the series), then
    /// along i when the slices also drift sideways.
    static func correctTilt(_ volume: Volume<Int16>, _ tilt: TiltCorrection) -> Volume<Int16> {
        let s = volume.size
        let rowsOut = s.j + tilt.extraRows
        let fill = volume.voxels.min() ?? 0
        var geometry = volume.geometry
        geometry.size.j = rowsOut
        var out = [Int16](repeating: fill, count: s.i * rowsOut * s.k)
        for k in 0..<s.k {
            let offset = tilt.rowOffsets[k]
            let input = k * s.i * s.j
            let output = k * s.i * rowsOut
            for j in 0..<rowsOut {
                var source = Double(j) - offset
                // Positions are decimal strings: snap shifts within a millionth of a row to it.
                if abs(source - source.rounded()) < 1e-6 { source = source.rounded() }
                guard source >= 0, source < Double(s.j) else { continue }
                let low = Int(source.rounded(.down))
                let high = min(low + 1, s.j - 1)
                let w = source - Double(low)
                let a = input + low * s.i
                let b = input + high * s.i
                let o = output + j * s.i
                if w < 1e-9 {
                    for i in 0..<s.i { out[o + i] = volume.voxels[a + i] }
                } else {
                    for i in 0..<s.i {
                        let v = (1 - w) * Double(volume.voxels[a + i]) + w * Double(volume.voxels[b + i])
                        out[o + i] = roundHalfUp(v)
                    }
                }
            }
            let shift = tilt.columnShifts[k]
            if abs(shift) > 1e-6 {
                // Output column i shows the tissue of input column i + shift.
                let slice = Array(out[output..<(output + s.i * rowsOut)])
                for j in 0..<rowsOut {
                    for i in 0..<s.i {
                        let x = Double(i) + shift
                        let x0 = Int(x.rounded(.down))
                        let w = x - Double(x0)
                        func sample(_ c: Int) -> Double {
                            c >= 0 && c < s.i ? Double(slice[c + j * s.i]) : Double(fill)
                        }
                        let v = (1 - w) * sample(x0) + w * sample(x0 + 1)
                        out[output + i + j * s.i] = roundHalfUp(v)
                    }
                }
            }
        }
        return Volume(geometry: geometry, voxels: out)
    }

    /// Linear interpolation along k from slices at `locations` to slices at `targets` (both
    /// ascending, in mm along the normal). Targets that coincide with a source slice copy it.
    static func resampleAlongK(
        _ volume: Volume<Int16>, from locations: [Double], to targets: [Double],
        geometry: Geometry
    ) -> Volume<Int16> {
        let n = volume.size.i * volume.size.j
        var voxels = [Int16](repeating: 0, count: n * targets.count)
        var upper = 1
        for (t, z) in targets.enumerated() {
            while upper < locations.count - 1 && locations[upper] < z { upper += 1 }
            let lower = max(0, upper - 1)
            let span = locations[upper] - locations[lower]
            let w = span > 0 ? min(1, max(0, (z - locations[lower]) / span)) : 0
            let a = lower * n
            let b = upper * n
            let o = t * n
            if w < 1e-6 {
                for v in 0..<n { voxels[o + v] = volume.voxels[a + v] }
            } else if w > 1 - 1e-6 {
                for v in 0..<n { voxels[o + v] = volume.voxels[b + v] }
            } else {
                for v in 0..<n {
                    let value = (1 - w) * Double(volume.voxels[a + v]) + w * Double(volume.voxels[b + v])
                    voxels[o + v] = roundHalfUp(value)
                }
            }
        }
        var g = geometry
        g.size.k = targets.count
        return Volume(geometry: g, voxels: voxels)
    }
}

/// Rounds halves up, as dcm2niix does when it interpolates stored values (which are mostly
/// positive, so its `round()` rounds halves up in HU too).
@inline(__always) func roundHalfUp(_ v: Double) -> Int16 {
    Int16(clamping: Int((v + 0.5).rounded(.down)))
}
