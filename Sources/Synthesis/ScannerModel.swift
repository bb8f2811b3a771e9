import Phantom
import Volumes

#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// What the scanner does to the fine-grid HU: each slice integrates its thickness (partial
/// volume along z), the reconstruction kernel blurs in-plane, quantum noise adds correlated
/// grain, photon starvation between the femoral heads draws a dark streak, and metal streaks.
enum ScannerModel {
    static func acquire(
        _ hu: inout [Float], labels: [UInt8], fine: Geometry, parameters p: SynthesisParameters,
        layout: TrunkLayout, using rng: inout SeededGenerator
    ) -> (image: Volume<Int16>, labels: Volume<UInt8>) {
        let n = fine.size
        let plane = n.i * n.j
        let height = fine.spacing.z * Double(n.k - 1)
        let count = Int((height / p.sliceSpacing).rounded(.down)) + 1
        let geometry = Geometry(
            size: Extent3(n.i, n.j, count), spacing: SIMD3(fine.spacing.x, fine.spacing.y, p.sliceSpacing),
            origin: fine.origin)
        // Slice profile: the mean over the slice's thickness, read at points 0.4 mm apart with
        // linear interpolation between fine slices (so thick slices average several, thin ones
        // fall between two).
        var image = [Float](repeating: 0, count: plane * count)
        var outLabels = [UInt8](repeating: 0, count: plane * count)
        let points = max(1, Int((p.sliceThickness / 0.4).rounded()))
        for o in 0..<count {
            let z = Double(o) * p.sliceSpacing
            // Weights per fine slice from `first` on, summed in slice order (deterministic).
            var first = n.k
            var weights: [Float] = []
            for m in 0..<points {
                let zz =
                    min(max(z + p.sliceThickness * ((Double(m) + 0.5) / Double(points) - 0.5), 0), height)
                    / fine.spacing.z
                let k0 = min(Int(zz), n.k - 1)
                let t = Float(zz - Double(k0))
                if weights.isEmpty { first = k0 }
                func add(_ k: Int, _ w: Float) {
                    while weights.count <= k - first { weights.append(0) }
                    weights[k - first] += w
                }
                add(k0, (1 - t) / Float(points))
                if t > 0, k0 + 1 < n.k { add(k0 + 1, t / Float(points)) }
            }
            for (offset, w) in weights.enumerated() where w != 0 {
                let kk = first + offset
                for v in 0..<plane { image[o * plane + v] += hu[kk * plane + v] * w }
            }
            let nearest = min(n.k - 1, Int((z / fine.spacing.z).rounded()))
            for v in 0..<plane { outLabels[o * plane + v] = labels[nearest * plane + v] }
        }
        hu = []
        let blurSigma = p.blurMM / fine.spacing.x
        var noise = gaussianNoise(plane * count, using: &rng)
        let noiseSigma = p.noiseCorrelation
        // A Gaussian blur of white noise shrinks its spread by √Σw² per axis; undo that.
        let gain = Float(p.noiseSigma) / (kernelNorm(noiseSigma) * kernelNorm(noiseSigma))
        for o in 0..<count {
            image.withUnsafeMutableBufferPointer { blurPlane($0, offset: o * plane, n.i, n.j, sigma: blurSigma) }
            noise.withUnsafeMutableBufferPointer { blurPlane($0, offset: o * plane, n.i, n.j, sigma: noiseSigma) }
        }
        for v in 0..<image.count { image[v] += noise[v] * gain }
        if p.streaks { addHeadStreak(&image, geometry, layout, using: &rng) }
        if !p.hipImplants.isEmpty { HipImplants.addStreaks(&image, geometry: geometry, layout: layout, using: &rng) }
        let voxels = image.map { Int16(clamping: Int($0.rounded())) }
        return (Volume(geometry: geometry, voxels: voxels), Volume(geometry: geometry, voxels: outLabels))
    }

    /// Standard normal values, two per Box–Muller draw.
    static func gaussianNoise(_ count: Int, using rng: inout SeededGenerator) -> [Float] {
        var out = [Float](repeating: 0, count: count)
        var n = 0
        while n < count {
            let u1 = max(Float(rng.next() >> 40) / Float(1 << 24), 1e-7)
            let u2 = Float(rng.next() >> 40) / Float(1 << 24)
            let r = (-2 * log(u1)).squareRoot()
            let a = 2 * Float.pi * u2
            out[n] = r * cos(a)
            if n + 1 < count { out[n + 1] = r * sin(a) }
            n += 2
        }
        return out
    }

    static func kernel(_ sigma: Double) -> [Float] {
        guard sigma > 0.05 else { return [1] }
        let r = max(1, Int((3 * sigma).rounded(.up)))
        let w = (-r...r).map { Float(exp(-Double($0 * $0) / (2 * sigma * sigma))) }
        let total = w.reduce(0, +)
        return w.map { $0 / total }
    }

    static func kernelNorm(_ sigma: Double) -> Float { kernel(sigma).reduce(0) { $0 + $1 * $1 }.squareRoot() }

    /// A separable Gaussian blur of one plane, edges clamped. Rows run over a copy padded with
    /// the edge values, columns a whole row at a time (contiguous, so the compiler vectorizes
    /// it); each output sums its taps in the same order as a plain loop would, so the values are
    /// those of the direct form.
    static func blurPlane(_ data: UnsafeMutableBufferPointer<Float>, offset: Int, _ ni: Int, _ nj: Int, sigma: Double) {
        let k = kernel(sigma)
        guard k.count > 1 else { return }
        let r = k.count / 2
        let taps = k.count
        var line = [Float](repeating: 0, count: ni + 2 * r)
        var copy = [Float](repeating: 0, count: ni * nj)
        k.withUnsafeBufferPointer { w in
            line.withUnsafeMutableBufferPointer { l in
                for j in 0..<nj {
                    let row = offset + ni * j
                    for i in 0..<(ni + 2 * r) { l[i] = data[row + min(max(i - r, 0), ni - 1)] }
                    for i in 0..<ni {
                        var acc: Float = 0
                        for m in 0..<taps { acc += w[m] * l[i + m] }
                        data[row + i] = acc
                    }
                }
            }
            copy.withUnsafeMutableBufferPointer { c in
                for v in 0..<(ni * nj) { c[v] = data[offset + v] }
                for j in 0..<nj {
                    let out = UnsafeMutableBufferPointer(rebasing: data[(offset + ni * j)..<(offset + ni * j + ni)])
                    for i in 0..<ni { out[i] = 0 }
                    for m in 0..<taps {
                        let source = ni * min(max(j + m - r, 0), nj - 1)
                        let weight = w[m]
                        for i in 0..<ni { out[i] += weight * c[source + i] }
                    }
                }
            }
        }
    }

    /// Photon starvation: the beam through both femoral heads is the most attenuated, and
    /// filtered back-projection paints a dark band along it.
    static func addHeadStreak(
        _ image: inout [Float], _ g: Geometry, _ layout: TrunkLayout, using rng: inout SeededGenerator
    ) {
        let a = layout.heads[0]
        let b = layout.heads[1]
        let depth = Float(rng.uniform(20...90))
        let width = rng.uniform(2...7)
        let n = g.size
        let ab = SIMD2(b.x - a.x, b.y - a.y)
        let len2 = (ab * ab).sum()
        for k in 0..<n.k {
            let z = g.origin.z + g.spacing.z * Double(k)
            guard abs(z - (a.z + b.z) / 2) < layout.headRadius * 0.8 else { continue }
            for j in 0..<n.j {
                let y = g.origin.y + g.spacing.y * Double(j)
                for i in 0..<n.i {
                    let q = SIMD2(g.origin.x + g.spacing.x * Double(i), y) - SIMD2(a.x, a.y)
                    let t = (q * ab).sum() / len2
                    guard t > 0, t < 1 else { continue }
                    let d = q - ab * t
                    image[i + n.i * (j + n.j * k)] -= depth * Float(exp(-(d * d).sum() / (2 * width * width)))
                }
            }
        }
    }
}
