import Foundation
import Volumes

/// Organ-sized ellipsoids placed in patient space (LPS mm), rasterized on any grid by testing
/// each voxel centre, so that the expected labels on the source and the prepared grid are
/// known independently of the code under test.
struct OrganPhantom {
    struct Organ {
        var label: UInt8
        var centre: SIMD3<Double>
        /// Semi-axes in mm along x, y, z.
        var radii: SIMD3<Double>
    }

    var organs: [Organ]

    /// Roughly the sizes of adult abdominal organs (liver ≈ 1.4 l, spleen ≈ 200 ml, kidneys ≈
    /// 150 ml, gallbladder ≈ 40 ml), around an origin at the middle of the abdomen.
    static let abdomen = OrganPhantom(organs: [
        Organ(label: 1, centre: [-45, 0, 20], radii: [75, 65, 70]),  // liver
        Organ(label: 2, centre: [75, 25, 35], radii: [30, 45, 35]),  // spleen
        Organ(label: 3, centre: [55, 50, -10], radii: [28, 30, 45]),  // left kidney
        Organ(label: 4, centre: [-55, 50, -20], radii: [28, 30, 45]),  // right kidney
        Organ(label: 5, centre: [40, -30, 40], radii: [40, 30, 40]),  // stomach
        Organ(label: 6, centre: [-30, -55, -25], radii: [15, 20, 30]),  // gallbladder
        Organ(label: 8, centre: [15, 10, -5], radii: [55, 15, 12]),  // pancreas
        Organ(label: 14, centre: [0, -20, -75], radii: [35, 30, 25])  // bladder
    ])

    /// Label at a patient position; later organs win where two overlap.
    func label(at p: SIMD3<Double>) -> UInt8 {
        var result: UInt8 = 0
        for organ in organs {
            let d = (p - organ.centre) / organ.radii
            if (d * d).sum() <= 1 { result = organ.label }
        }
        return result
    }

    func rasterize(on geometry: Geometry) -> Volume<UInt8> {
        let s = geometry.size
        let steps = (0..<3).map { geometry.direction[$0] * geometry.spacing[$0] }
        var voxels = [UInt8](repeating: 0, count: s.count)
        for k in 0..<s.k {
            for j in 0..<s.j {
                let row = geometry.origin + steps[1] * Double(j) + steps[2] * Double(k)
                for i in 0..<s.i { voxels[i + s.i * (j + s.j * k)] = label(at: row + steps[0] * Double(i)) }
            }
        }
        return Volume(geometry: geometry, voxels: voxels)
    }

    /// CT-like intensities: air outside a body ellipse, soft tissue inside, organs brighter.
    func scan(on geometry: Geometry, bodyRadii: SIMD3<Double> = [160, 120, 1e9]) -> Volume<Int16> {
        let labels = rasterize(on: geometry).voxels
        let s = geometry.size
        let steps = (0..<3).map { geometry.direction[$0] * geometry.spacing[$0] }
        var voxels = [Int16](repeating: -1000, count: s.count)
        for k in 0..<s.k {
            for j in 0..<s.j {
                for i in 0..<s.i {
                    let n = i + s.i * (j + s.j * k)
                    let d =
                        (geometry.origin + steps[0] * Double(i) + steps[1] * Double(j) + steps[2] * Double(k))
                        / bodyRadii
                    if d.x * d.x + d.y * d.y <= 1 { voxels[n] = Int16(20 + (i * 7 + j * 3 + k * 5) % 31) }
                    if labels[n] != 0 { voxels[n] = 40 + Int16(labels[n]) * 8 }
                }
            }
        }
        return Volume(geometry: geometry, voxels: voxels)
    }
}

/// Dice of one label between two label maps on the same grid; nil when neither has it.
func dice(_ a: Volume<UInt8>, _ b: Volume<UInt8>, label: UInt8) -> Double? {
    var both = 0
    var na = 0
    var nb = 0
    for n in a.voxels.indices {
        let x = a.voxels[n] == label
        let y = b.voxels[n] == label
        if x { na += 1 }
        if y { nb += 1 }
        if x && y { both += 1 }
    }
    return na + nb == 0 ? nil : 2 * Double(both) / Double(na + nb)
}

/// Rotation about the z axis then the x axis (degrees), for oblique test grids.
func rotation(zDegrees: Double, xDegrees: Double) -> Matrix3 {
    let a = zDegrees * .pi / 180
    let b = xDegrees * .pi / 180
    let rz = Matrix3(columns: [cos(a), sin(a), 0], [-sin(a), cos(a), 0], [0, 0, 1])
    let rx = Matrix3(columns: [1, 0, 0], [0, cos(b), sin(b)], [0, -sin(b), cos(b)])
    return rx * rz
}

/// A grid of `size` voxels at `spacing` along `direction`, centred on the patient origin.
func centredGeometry(size: Extent3, spacing: SIMD3<Double>, direction: Matrix3) -> Geometry {
    let half = SIMD3<Double>(Double(size.i - 1), Double(size.j - 1), Double(size.k - 1)) / 2
    return Geometry(
        size: size, spacing: spacing, origin: SIMD3<Double>.zero - direction * (spacing * half), direction: direction)
}
