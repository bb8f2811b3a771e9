import Foundation
import ModelSpec
import Volumes

/// What nnU-Net does to the patches of a fixed training case (Isensee et al., Nature Methods 18,
/// 2021, supplementary: rotation, scaling, elastic deformation, gamma, mirroring), for a dataset's
/// cases: a synthesized CT or a phantom is a new draw every time and gets none of it.
///
/// The patch is sampled through `source = centre + M (p − patch centre) + elastic(p)`, with M a
/// rotation about each axis times an isotropic scale and, with probability `mirror`, a flip of
/// the left-right axis; the image trilinearly (the volume's minimum beyond its edges), labels by
/// nearest neighbour, with left and right organs swapped when mirrored so that "left kidney"
/// stays the kidney on the patient's left side of the image.
struct CaseAugmentation: Sendable {
    var rotation = 0.2, maxRotationDegrees = 30.0
    var scaling = 0.2, scaleRange = 0.7...1.4
    var elastic = 0.2, elasticVoxels = 3.0
    var gamma = 0.3, gammaRange = 0.7...1.5
    /// nnU-Net mirrors with p 0.5; an abdomen mirrored puts the liver on the left, and 200 steps
    /// of it from the shipped student lost the liver on a held-out case (docs/TRAINING.md): off
    /// unless a run asks for it (TrainingConfiguration.mirrorProbability).
    var mirror = 0.0
    /// Class id → its mirror image's class (left kidney ↔ right kidney, …), from the class names.
    let swapped: [UInt8]

    init(classes: [OrganClass] = OrganClass.word) {
        var swap = (0..<classes.count).map { UInt8($0) }
        for organ in classes where organ.name.hasPrefix("left ") {
            let other = "right " + organ.name.dropFirst(5)
            if let partner = classes.first(where: { $0.name == other }) {
                swap[organ.id] = UInt8(partner.id)
                swap[partner.id] = UInt8(organ.id)
            }
        }
        swapped = swap
    }

    /// The patch of `window` (D, H, W) around `centre` (k, j, i on the volume), augmented.
    /// - Parameter leftRightAxis: the volume axis (0 = i) running between the patient's sides,
    ///   or nil when the voxel order is unknown (no mirroring).
    func patch(of volume: TrainingVolume, centre: SIMD3<Double>, window: [Int], leftRightAxis: Int?,
               rng: inout SplitMix) -> (image: [Float], labels: [UInt8]) {
        let (d, h, w) = (window[0], window[1], window[2])
        // M maps patch offsets (x = i, y = j, z = k) to volume offsets.
        var m = Matrix3x3.identity
        if rng.uniform() < rotation {
            for axis in 0..<3 {
                m = m * Matrix3x3.rotation(about: axis, degrees: (rng.uniform() * 2 - 1) * maxRotationDegrees)
            }
        }
        if rng.uniform() < scaling {
            let s = scaleRange.lowerBound + rng.uniform() * (scaleRange.upperBound - scaleRange.lowerBound)
            m = m * Matrix3x3.scale(s)
        }
        let mirrored = leftRightAxis != nil && rng.uniform() < mirror
        if let axis = leftRightAxis, mirrored { m = m * Matrix3x3.flip(axis) }
        let field = rng.uniform() < elastic ? ElasticField(size: [w, h, d], amplitude: elasticVoxels, rng: &rng) : nil
        let size = volume.size
        let half = SIMD3<Double>(Double(w - 1), Double(h - 1), Double(d - 1)) / 2
        var image = [Float](repeating: volume.minimum, count: d * h * w)
        var labels = [UInt8](repeating: 0, count: d * h * w)
        let limit = SIMD3<Double>(Double(size.i - 1), Double(size.j - 1), Double(size.k - 1))
        for z in 0..<d {
            for y in 0..<h {
                for x in 0..<w {
                    var p = SIMD3<Double>(Double(x), Double(y), Double(z)) - half
                    if let field { p += field.displacement(x, y, z) }
                    let s = centre + m * p
                    guard all(s .>= -0.5), all(s .<= limit + 0.5) else { continue }
                    let n = (z * h + y) * w + x
                    let c = s.clamped(lowerBound: SIMD3(repeating: 0), upperBound: limit)
                    let label = volume.labels[index(c.rounded(.toNearestOrAwayFromZero), size)]
                    labels[n] = mirrored ? swapped[Int(label)] : label
                    image[n] = trilinear(volume, c)
                }
            }
        }
        if rng.uniform() < gamma { applyGamma(&image, rng: &rng) }
        return (image, labels)
    }

    private func index(_ c: SIMD3<Double>, _ size: Extent3) -> Int {
        Int(c.x) + size.i * (Int(c.y) + size.j * Int(c.z))
    }

    private func trilinear(_ volume: TrainingVolume, _ c: SIMD3<Double>) -> Float {
        let size = volume.size
        let f = c.rounded(.down)
        let (i0, j0, k0) = (Int(f.x), Int(f.y), Int(f.z))
        let (i1, j1, k1) = (min(i0 + 1, size.i - 1), min(j0 + 1, size.j - 1), min(k0 + 1, size.k - 1))
        let t = c - f
        func v(_ i: Int, _ j: Int, _ k: Int) -> Double { Double(volume.image[i + size.i * (j + size.j * k)]) }
        let x00 = v(i0, j0, k0) * (1 - t.x) + v(i1, j0, k0) * t.x, x10 = v(i0, j1, k0) * (1 - t.x) + v(i1, j1, k0) * t.x
        let x01 = v(i0, j0, k1) * (1 - t.x) + v(i1, j0, k1) * t.x, x11 = v(i0, j1, k1) * (1 - t.x) + v(i1, j1, k1) * t.x
        return Float((x00 * (1 - t.y) + x10 * t.y) * (1 - t.z) + (x01 * (1 - t.y) + x11 * t.y) * t.z)
    }

    /// nnU-Net's gamma with retained statistics: the patch scaled to [0, 1], raised to γ, scaled
    /// back, then shifted and stretched to its former mean and standard deviation.
    private func applyGamma(_ image: inout [Float], rng: inout SplitMix) {
        let g = rng.uniform() < 0.5 ? gammaRange.lowerBound + rng.uniform() * (1 - gammaRange.lowerBound)
                                    : 1 + rng.uniform() * (gammaRange.upperBound - 1)
        guard let lo = image.min(), let hi = image.max(), hi > lo else { return }
        func moments(_ a: [Float]) -> (Double, Double) {
            let mean = a.reduce(0.0) { $0 + Double($1) } / Double(a.count)
            return (mean, (a.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(a.count)).squareRoot())
        }
        let (mean, sd) = moments(image)
        let range = Double(hi - lo)
        image = image.map { Float(pow((Double($0) - Double(lo)) / range, g) * range + Double(lo)) }
        let (newMean, newSD) = moments(image)
        let stretch = newSD > 1e-12 ? sd / newSD : 1
        image = image.map { Float((Double($0) - newMean) * stretch + mean) }
    }
}

/// A smooth random displacement: independent offsets on a 4×4×4 lattice spanning the patch,
/// interpolated trilinearly (a coarse version of nnU-Net's Gaussian-smoothed elastic field).
struct ElasticField {
    let lattice = 4
    let size: [Int]
    var offsets: [SIMD3<Double>]

    init(size: [Int], amplitude: Double, rng: inout SplitMix) {
        self.size = size
        offsets = (0..<(4 * 4 * 4)).map { _ in SIMD3(rng.gaussian(), rng.gaussian(), rng.gaussian()) * amplitude }
    }

    func displacement(_ x: Int, _ y: Int, _ z: Int) -> SIMD3<Double> {
        let position = [x, y, z]
        let p = (0..<3).map { a -> Double in Double(position[a]) / Double(max(1, size[a] - 1)) * Double(lattice - 1) }
        let f = p.map { min(Int($0), lattice - 2) }
        let t: [Double] = (0..<3).map { p[$0] - Double(f[$0]) }
        var out = SIMD3<Double>(repeating: 0)
        for dz in 0...1 {
            for dy in 0...1 {
                for dx in 0...1 {
                    let wx: Double = dx == 0 ? 1 - t[0] : t[0]
                    let wy: Double = dy == 0 ? 1 - t[1] : t[1]
                    let wz: Double = dz == 0 ? 1 - t[2] : t[2]
                    let corner: Int = (f[0] + dx) + lattice * ((f[1] + dy) + lattice * (f[2] + dz))
                    out += offsets[corner] * (wx * wy * wz)
                }
            }
        }
        return out
    }
}

/// Small 3×3 matrices for the patch transform (rows act on (x, y, z) = (i, j, k) offsets).
struct Matrix3x3 {
    var rows: [SIMD3<Double>]

    static let identity = Matrix3x3(rows: [SIMD3(1, 0, 0), SIMD3(0, 1, 0), SIMD3(0, 0, 1)])

    static func rotation(about axis: Int, degrees: Double) -> Matrix3x3 {
        let a = degrees * .pi / 180, c = cos(a), s = sin(a)
        switch axis {
        case 0: return Matrix3x3(rows: [SIMD3(1, 0, 0), SIMD3(0, c, -s), SIMD3(0, s, c)])
        case 1: return Matrix3x3(rows: [SIMD3(c, 0, s), SIMD3(0, 1, 0), SIMD3(-s, 0, c)])
        default: return Matrix3x3(rows: [SIMD3(c, -s, 0), SIMD3(s, c, 0), SIMD3(0, 0, 1)])
        }
    }

    static func scale(_ s: Double) -> Matrix3x3 { Matrix3x3(rows: identity.rows.map { $0 * s }) }

    static func flip(_ axis: Int) -> Matrix3x3 {
        var m = identity
        m.rows[axis][axis] = -1
        return m
    }

    static func * (a: Matrix3x3, b: Matrix3x3) -> Matrix3x3 {
        let columns = (0..<3).map { c in SIMD3(b.rows[0][c], b.rows[1][c], b.rows[2][c]) }
        return Matrix3x3(rows: a.rows.map { r in SIMD3((r * columns[0]).sum(), (r * columns[1]).sum(), (r * columns[2]).sum()) })
    }

    static func * (m: Matrix3x3, v: SIMD3<Double>) -> SIMD3<Double> {
        SIMD3((m.rows[0] * v).sum(), (m.rows[1] * v).sum(), (m.rows[2] * v).sum())
    }
}
