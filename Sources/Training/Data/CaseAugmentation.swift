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
    func patch(
        of volume: TrainingVolume, centre: SIMD3<Double>, window: [Int], leftRightAxis: Int?,
        rng: inout SplitMix
    ) -> (image: [Float], labels: [UInt8]) {
        let (d, h, w) = (window[0], window[1], window[2])
        // M maps patch offsets (x = i, y = j, z = k) to volume offsets.
        var m = Matrix3.identity
        if rng.uniform() < rotation {
            for axis in 0..<3 {
                m = m * Matrix3.rotation(about: axis, degrees: (rng.uniform() * 2 - 1) * maxRotationDegrees)
            }
        }
        if rng.uniform() < scaling {
            let s = scaleRange.lowerBound + rng.uniform() * (scaleRange.upperBound - scaleRange.lowerBound)
            m = m * Matrix3.scale(s)
        }
        let mirrored = leftRightAxis != nil && rng.uniform() < mirror
        if let axis = leftRightAxis, mirrored { m = m * Matrix3.flip(axis) }
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
        let x00 = v(i0, j0, k0) * (1 - t.x) + v(i1, j0, k0) * t.x
        let x10 = v(i0, j1, k0) * (1 - t.x) + v(i1, j1, k0) * t.x
        let x01 = v(i0, j0, k1) * (1 - t.x) + v(i1, j0, k1) * t.x
        let x11 = v(i0, j1, k1) * (1 - t.x) + v(i1, j1, k1) * t.x
        return Float((x00 * (1 - t.y) + x10 * t.y) * (1 - t.z) + (x01 * (1 - t.y) + x11 * t.y) * t.z)
    }

    /// nnU-Net's gamma with retained statistics: the patch scaled to [0, 1], raised to γ, scaled
    /// back, then shifted and stretched to its former mean and standard deviation.
    private func applyGamma(_ image: inout [Float], rng: inout SplitMix) {
        let g =
            rng.uniform() < 0.5
            ? gammaRange.lowerBound + rng.uniform() * (1 - gammaRange.lowerBound)
            : 1 + rng.uniform() * (gammaRange.upperBound - 1)
        guard let lo = image.min(), let hi = image.max(), hi > lo else { return }
        func moments(_ a: [Float]) -> (Double, Double) {
            let mean = a.reduce(0.0) { $0 + Double($1) } / Double(a.count)
            return (
                mean, (a.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(a.count)).squareRoot()
            )
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
    static let lattice = 4
    /// Patch index → lattice coordinate, per axis (x, y, z).
    let scale: SIMD3<Double>
    var offsets: [SIMD3<Double>]

    init(size: [Int], amplitude: Double, rng: inout SplitMix) {
        let n = Double(Self.lattice - 1)
        scale = SIMD3(n / Double(max(1, size[0] - 1)), n / Double(max(1, size[1] - 1)), n / Double(max(1, size[2] - 1)))
        offsets = (0..<(4 * 4 * 4)).map { _ in SIMD3(rng.gaussian(), rng.gaussian(), rng.gaussian()) * amplitude }
    }

    /// Called for every voxel of a patch: no allocation.
    func displacement(_ x: Int, _ y: Int, _ z: Int) -> SIMD3<Double> {
        let p = SIMD3<Double>(Double(x), Double(y), Double(z)) * scale
        let last = Double(Self.lattice - 2)
        let f = SIMD3(min(p.x.rounded(.down), last), min(p.y.rounded(.down), last), min(p.z.rounded(.down), last))
        let t = p - f
        let (i, j, k) = (Int(f.x), Int(f.y), Int(f.z))
        var out = SIMD3<Double>(repeating: 0)
        for dz in 0...1 {
            let wz: Double = dz == 0 ? 1 - t.z : t.z
            for dy in 0...1 {
                let wy: Double = dy == 0 ? 1 - t.y : t.y
                for dx in 0...1 {
                    let wx: Double = dx == 0 ? 1 - t.x : t.x
                    let corner: Int = (i + dx) + Self.lattice * ((j + dy) + Self.lattice * (k + dz))
                    let weight: Double = wx * wy * wz
                    out += offsets[corner] * weight
                }
            }
        }
        return out
    }
}

/// The patch transform's pieces, on Volumes' Matrix3 (which acts on (x, y, z) = (i, j, k) offsets).
extension Matrix3 {
    static func rotation(about axis: Int, degrees: Double) -> Matrix3 {
        let a = degrees * .pi / 180
        let c = cos(a)
        let s = sin(a)
        switch axis {
        case 0: return Matrix3(columns: [1, 0, 0], [0, c, s], [0, -s, c])
        case 1: return Matrix3(columns: [c, 0, -s], [0, 1, 0], [s, 0, c])
        default: return Matrix3(columns: [c, s, 0], [-s, c, 0], [0, 0, 1])
        }
    }

    static func scale(_ s: Double) -> Matrix3 { Matrix3(columns: [s, 0, 0], [0, s, 0], [0, 0, s]) }

    static func flip(_ axis: Int) -> Matrix3 {
        var m = identity
        m[axis, axis] = -1
        return m
    }
}
