import Foundation
import ModelSpec
import Volumes

/// A small abdomen: a body of soft tissue in air with a few organ-sized ellipsoids, on an
/// anisotropic, slightly oblique LAS grid (what dcm2niix gives for a tilted-table series).
enum ExportFixture {
    static let organs: [(label: UInt8, centre: SIMD3<Double>, radii: SIMD3<Double>, hu: Int16)] = [
        (1, [-45, 0, 10], [70, 60, 60], 60),  // liver
        (2, [70, 25, 20], [28, 40, 35], 50),  // spleen
        (3, [50, 45, -20], [25, 28, 40], 150),  // left kidney
        (4, [-50, 45, -25], [25, 28, 40], 140),  // right kidney
        (6, [-25, -50, -20], [14, 18, 26], 10),  // gallbladder
        (14, [0, -10, -70], [30, 28, 22], 5)  // bladder
    ]

    static func geometry(size: Extent3 = Extent3(150, 130, 44), spacing: SIMD3<Double> = [1.6, 1.6, 4.5]) -> Geometry {
        let a = 8 * Double.pi / 180
        let direction = Matrix3(columns: [cos(a), sin(a), 0], [sin(a), -cos(a), 0], [0, 0, 1])
        let half = SIMD3<Double>(Double(size.i - 1), Double(size.j - 1), Double(size.k - 1)) / 2
        return Geometry(
            size: size, spacing: spacing, origin: SIMD3<Double>(3, -7, 12) - direction * (spacing * half),
            direction: direction)
    }

    static func make(_ g: Geometry = geometry()) -> (labels: Volume<UInt8>, scan: Volume<Int16>) {
        let s = g.size
        var labels = [UInt8](repeating: 0, count: s.count)
        var scan = [Int16](repeating: -1000, count: s.count)
        let steps = (0..<3).map { g.direction[$0] * g.spacing[$0] }
        for k in 0..<s.k {
            for j in 0..<s.j {
                for i in 0..<s.i {
                    let n = i + s.i * (j + s.j * k)
                    let p = g.origin + steps[0] * Double(i) + steps[1] * Double(j) + steps[2] * Double(k)
                    if (p.x / 115) * (p.x / 115) + (p.y / 95) * (p.y / 95) <= 1 {
                        scan[n] = Int16(-80 + (i * 13 + j * 7 + k * 3) % 40)
                    }
                    for organ in organs {
                        let d = (p - organ.centre) / organ.radii
                        if (d * d).sum() <= 1 {
                            labels[n] = organ.label
                            scan[n] = organ.hu + Int16((i * 5 + j * 11 + k * 17) % 23) - 11
                        }
                    }
                }
            }
        }
        return (Volume(geometry: g, voxels: labels), Volume(geometry: g, voxels: scan))
    }
}
