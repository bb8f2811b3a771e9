import Phantom
import Volumes

#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// Per-label bounding boxes of a label map, in patient millimetres (LPS).
struct LabelBoxes {
    var lower: [SIMD3<Double>]
    var upper: [SIMD3<Double>]
    var present: [Bool]

    init(_ labels: Volume<UInt8>, classCount: Int = 17) {
        let n = labels.size
        var lo = [SIMD3<Int>](repeating: SIMD3(Int.max, Int.max, Int.max), count: classCount)
        var hi = [SIMD3<Int>](repeating: SIMD3(-1, -1, -1), count: classCount)
        labels.voxels.withUnsafeBufferPointer { v in
            for k in 0..<n.k {
                for j in 0..<n.j {
                    let row = n.i * (j + n.j * k)
                    for i in 0..<n.i {
                        let l = Int(v[row + i])
                        guard l != 0, l < classCount else { continue }
                        let p = SIMD3(i, j, k)
                        lo[l] = pointwiseMin(lo[l], p)
                        hi[l] = pointwiseMax(hi[l], p)
                    }
                }
            }
        }
        present = hi.map { $0.x >= 0 }
        lower = []
        upper = []
        for l in 0..<classCount {
            guard present[l] else {
                lower.append(.zero)
                upper.append(.zero)
                continue
            }
            // The box of the eight corners in patient space (the grid may be flipped).
            var a = SIMD3(repeating: Double.infinity)
            var b = SIMD3(repeating: -Double.infinity)
            for c in 0..<8 {
                let idx = SIMD3(
                    Double(c & 1 == 0 ? lo[l].x : hi[l].x), Double(c & 2 == 0 ? lo[l].y : hi[l].y),
                    Double(c & 4 == 0 ? lo[l].z : hi[l].z))
                let p = labels.geometry.point(atIndex: idx)
                a = pointwiseMin(a, p)
                b = pointwiseMax(b, p)
            }
            lower.append(a)
            upper.append(b)
        }
    }

    /// The box around every organ.
    var all: (SIMD3<Double>, SIMD3<Double>) {
        var a = SIMD3(repeating: Double.infinity)
        var b = SIMD3(repeating: -Double.infinity)
        for l in 1..<present.count where present[l] {
            a = pointwiseMin(a, lower[l])
            b = pointwiseMax(b, upper[l])
        }
        return (a, b)
    }
}

/// The random deformation of one anatomy: an affine (scale, rotation, shear) about the organs'
/// centre, then a smooth elastic displacement. Maps an output position to the source position
/// whose label it takes (the inverse direction, so every output voxel gets exactly one label).
struct AnatomyWarp {
    let centre: SIMD3<Double>
    let forward: Matrix3
    let inverse: Matrix3
    let displacement: VectorNoise
    let amplitude: Double

    init(
        _ p: SynthesisParameters, centre: SIMD3<Double>, span: (SIMD3<Double>, SIMD3<Double>),
        using rng: inout SeededGenerator
    ) {
        self.centre = centre
        let (a, b, c) = (p.rotation[0], p.rotation[1], p.rotation[2])
        let rx = Matrix3(columns: [1, 0, 0], [0, cos(a), sin(a)], [0, -sin(a), cos(a)])
        let ry = Matrix3(columns: [cos(b), 0, -sin(b)], [0, 1, 0], [sin(b), 0, cos(b)])
        let rz = Matrix3(columns: [cos(c), sin(c), 0], [-sin(c), cos(c), 0], [0, 0, 1])
        let scale = Matrix3(columns: [p.scale[0], 0, 0], [0, p.scale[1], 0], [0, 0, p.scale[2]])
        let shear = Matrix3(columns: [1, p.shear, 0], [0, 1, 0], [0, 0, 1])
        forward = rz * ry * rx * shear * scale
        inverse = forward.inverse
        amplitude = p.elasticAmplitudeMM
        displacement = VectorNoise(lower: span.0, upper: span.1, spacing: p.elasticWavelengthMM / 2, using: &rng)
    }

    func forwardPoint(_ source: SIMD3<Double>) -> SIMD3<Double> { centre + forward * (source - centre) }

    /// The labels of `source` on `grid`, nearest neighbour (0 outside the source).
    func labels(from source: Volume<UInt8>, on grid: Geometry, threads: Int) -> [UInt8] {
        let n = grid.size
        let m = source.size
        let sourceScale = 1 / source.geometry.spacing
        let dirInverse = source.geometry.direction.inverse
        let origin = grid.origin
        let c0: SIMD3<Double> = grid.direction[0] * grid.spacing.x
        let c1: SIMD3<Double> = grid.direction[1] * grid.spacing.y
        let c2: SIMD3<Double> = grid.direction[2] * grid.spacing.z
        var out = [UInt8](repeating: 0, count: n.count)
        out.withUnsafeMutableBufferPointer { outBuffer in
            nonisolated(unsafe) let o = outBuffer
            source.voxels.withUnsafeBufferPointer { srcBuffer in
                nonisolated(unsafe) let s = srcBuffer
                Parallel.forEach(n.k, threads: threads) { k in
                    for j in 0..<n.j {
                        for i in 0..<n.i {
                            let step: SIMD3<Double> = c0 * Double(i) + c1 * Double(j) + c2 * Double(k)
                            let p = origin + step
                            let d = displacement.value(p) * (amplitude / 1.6)
                            let q = centre + inverse * (p - centre) + d
                            let idx = (dirInverse * (q - source.geometry.origin)) * sourceScale
                            let si = Int((idx.x).rounded())
                            let sj = Int((idx.y).rounded())
                            let sk = Int((idx.z).rounded())
                            guard si >= 0, sj >= 0, sk >= 0, si < m.i, sj < m.j, sk < m.k else { continue }
                            o[i + n.i * (j + n.j * k)] = s[si + m.i * (sj + m.j * sk)]
                        }
                    }
                }
            }
        }
        return out
    }
}
