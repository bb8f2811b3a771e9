import Phantom
import Volumes

#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// Where the trunk's unlabelled structures go, read off a warped label map: the skeleton, the
/// vessels and the muscles are placed by the organs around them (spine behind and between the
/// kidneys, sacrum behind the rectum, pelvis round the femoral heads, lungs above the liver and
/// spleen), and the body outline follows the organs per slice. Read on a coarse grid over the
/// whole warped anatomy (so a scan of the upper abdomen still knows where the hips are) and
/// looked up by position in mm.
struct TrunkLayout {
    static let bins = 64
    let grid: Geometry
    /// Per slice: centre of the organs (x, y mm, smoothed) and the organs' extent from it per
    /// angle bin (mm), after smoothing; slices without organs take the nearest slice's.
    var centre: [SIMD2<Double>]
    var envelope: [[Double]]
    var organSlices: ClosedRange<Int>
    /// Per column (i + n.i·j): the height (z, mm) of the diaphragm above the organs under it.
    var dome: [Double]
    var kidneyCentre: SIMD3<Double>  // midpoint of the two kidneys' centroids
    var kidneyTop: Double, kidneyBottom: Double
    var heads: [SIMD3<Double>]  // left (15), right (16) femoral head centroids
    var headRadius: Double
    var headTop: Double, headBottom: Double
    var liverTop: Double
    var oesophagus: SIMD3<Double>?  // centroid of the lowest third of the oesophagus
    var bladderFront: Double?  // most anterior y of the bladder
    /// Per slice: the most posterior y of the rectum there, if any.
    var rectumBack: [Double?]

    /// `kidneyFat`: how far the fat round the kidneys and adrenals reaches (mm); the envelope
    /// takes it in, so the body wall stands off them.
    init(labels: [UInt8], grid: Geometry, kidneyFat: Double = 0) throws {
        self.grid = grid
        let n = grid.size
        var count = [Int](repeating: 0, count: 17)
        var sum = [SIMD3<Double>](repeating: .zero, count: 17)
        var top = [Double](repeating: -.infinity, count: 17)
        var bottom = [Double](repeating: .infinity, count: 17)
        var sliceCount = [Int](repeating: 0, count: n.k)
        var sliceSum = [SIMD2<Double>](repeating: .zero, count: n.k)
        var rectum = [Double?](repeating: nil, count: n.k)
        var bladderFront: Double?
        var column = [Double](repeating: -.infinity, count: n.i * n.j)
        let underDiaphragm: Set<UInt8> = [1, 2, 3, 4, 5, 12]
        let (o, s) = (grid.origin, grid.spacing)
        labels.withUnsafeBufferPointer { v in
            for k in 0..<n.k {
                let z = o.z + s.z * Double(k)
                for j in 0..<n.j {
                    let y = o.y + s.y * Double(j)
                    let row = n.i * (j + n.j * k)
                    for i in 0..<n.i {
                        let l = v[row + i]
                        guard l != 0 else { continue }
                        let x = o.x + s.x * Double(i)
                        let li = Int(l)
                        count[li] += 1
                        sum[li] += SIMD3(x, y, z)
                        top[li] = max(top[li], z)
                        bottom[li] = min(bottom[li], z)
                        sliceCount[k] += 1
                        sliceSum[k] += SIMD2(x, y)
                        if l == 13 { rectum[k] = max(rectum[k] ?? -.infinity, y) }
                        if l == 14 { bladderFront = min(bladderFront ?? .infinity, y) }
                        if underDiaphragm.contains(l) { column[i + n.i * j] = max(column[i + n.i * j], z) }
                    }
                }
            }
        }
        guard count[3] > 0, count[4] > 0, count[15] > 0, count[16] > 0, count[1] > 0 else {
            throw SynthesisError.missingOrgans("warped map")
        }
        func centroid(_ l: Int) -> SIMD3<Double> { sum[l] / Double(count[l]) }
        kidneyCentre = (centroid(3) + centroid(4)) / 2
        kidneyTop = max(top[3], top[4])
        kidneyBottom = min(bottom[3], bottom[4])
        heads = [centroid(15), centroid(16)]
        // A ball's radius from its voxel count (the heads are nearly spherical).
        headRadius = pow(3 * Double(count[15] + count[16]) / 2 * s.x * s.y * s.z / (4 * .pi), 1.0 / 3)
        headTop = max(top[15], top[16])
        headBottom = min(bottom[15], bottom[16])
        liverTop = top[1]
        self.bladderFront = bladderFront
        rectumBack = rectum

        // The oesophagus's lowest third (the hiatus), where the aorta and the spine lie behind it.
        if count[7] > 20 {
            let cut = bottom[7] + (top[7] - bottom[7]) / 3
            var a = SIMD3<Double>.zero
            var c = 0
            labels.withUnsafeBufferPointer { v in
                for k in 0..<n.k where o.z + s.z * Double(k) <= cut {
                    for j in 0..<n.j {
                        for i in 0..<n.i where v[i + n.i * (j + n.j * k)] == 7 {
                            a += SIMD3(o.x + s.x * Double(i), o.y + s.y * Double(j), o.z + s.z * Double(k))
                            c += 1
                        }
                    }
                }
            }
            oesophagus = c > 0 ? a / Double(c) : nil
        } else {
            oesophagus = nil
        }

        // Slice centres: where a slice holds organs, their centroid; smoothed along z.
        let present = (0..<n.k).filter { sliceCount[$0] > 200 }
        guard let first = present.first, let last = present.last else {
            throw SynthesisError.missingOrgans("warped map")
        }
        organSlices = first...last
        let fallback = SIMD2(kidneyCentre.x, kidneyCentre.y)
        var centres = (0..<n.k).map { k -> SIMD2<Double> in
            let kk = min(max(k, first), last)
            return sliceCount[kk] > 0 ? sliceSum[kk] / Double(sliceCount[kk]) : fallback
        }
        centres = Self.smoothAlongZ(centres, radius: max(1, Int(30 / s.z)))
        centre = centres

        // Organ extent per angle bin around each slice's centre.
        var radius = [[Double]](repeating: [Double](repeating: 0, count: Self.bins), count: n.k)
        labels.withUnsafeBufferPointer { v in
            for k in 0..<n.k where sliceCount[k] > 0 {
                let c = centres[k]
                for j in 0..<n.j {
                    let dy = o.y + s.y * Double(j) - c.y
                    let row = n.i * (j + n.j * k)
                    for i in 0..<n.i where v[row + i] != 0 {
                        let dx = o.x + s.x * Double(i) - c.x
                        let b = Self.bin(dx, dy)
                        let l = v[row + i]
                        let margin = l == 3 || l == 4 || l == 12 ? kidneyFat : 0
                        radius[k][b] = max(radius[k][b], (dx * dx + dy * dy).squareRoot() + margin)
                    }
                }
            }
        }
        envelope = Self.smoothEnvelope(radius, organSlices: organSlices, window: max(1, Int(25 / s.z)))
        dome = Self.fillDome(column, n: n, spacing: s.x)
    }

    @inline(__always) static func bin(_ dx: Double, _ dy: Double) -> Int {
        let a = atan2(dy, dx)  // −π…π
        return min(bins - 1, max(0, Int((a + .pi) / (2 * .pi) * Double(bins))))
    }

    /// The angle at the middle of a bin.
    static func angle(ofBin b: Int) -> Double { (Double(b) + 0.5) / Double(bins) * 2 * .pi - .pi }

    static func smoothAlongZ(_ values: [SIMD2<Double>], radius: Int) -> [SIMD2<Double>] {
        values.indices.map { k in
            let r = max(0, k - radius)...min(values.count - 1, k + radius)
            return r.reduce(SIMD2<Double>.zero) { $0 + values[$1] } / Double(r.count)
        }
    }

    /// Empty bins filled from their neighbours, a running maximum over nearby slices (the body
    /// does not narrow where one slice happens to hold little), then a circular blur.
    static func smoothEnvelope(_ raw: [[Double]], organSlices: ClosedRange<Int>, window: Int) -> [[Double]] {
        var filled = raw.map { bins -> [Double] in
            let known = bins.indices.filter { bins[$0] > 0 }
            guard !known.isEmpty else { return bins }
            return bins.indices.map { b in
                if bins[b] > 0 { return bins[b] }
                // Nearest known bins either way round the circle, linearly.
                var lo = b
                var hi = b
                var dl = 0
                var dh = 0
                while bins[(lo + Self.bins) % Self.bins] == 0 {
                    lo -= 1
                    dl += 1
                }
                while bins[hi % Self.bins] == 0 {
                    hi += 1
                    dh += 1
                }
                let a = bins[(lo + Self.bins) % Self.bins]
                let c = bins[hi % Self.bins]
                return (a * Double(dh) + c * Double(dl)) / Double(dl + dh)
            }
        }
        for k in filled.indices where !organSlices.contains(k) {
            filled[k] = filled[k < organSlices.lowerBound ? organSlices.lowerBound : organSlices.upperBound]
        }
        var out = filled
        for k in filled.indices {
            let r = max(0, k - window)...min(filled.count - 1, k + window)
            for b in 0..<Self.bins {
                out[k][b] = r.map { filled[$0][b] }.max() ?? 0
            }
            let row = out[k]
            out[k] = (0..<Self.bins).map { b in
                (row[(b + Self.bins - 2) % Self.bins] + 2 * row[(b + Self.bins - 1) % Self.bins] + 3 * row[b]
                    + 2 * row[(b + 1) % Self.bins] + row[(b + 2) % Self.bins]) / 9
            }
        }
        return out
    }

    /// Diaphragm height per column: where organs lie under it, their top; elsewhere the heights
    /// around, by normalised convolution (Gaussian, 30 mm) on a coarse grid; then smoothed.
    static func fillDome(_ column: [Double], n: Extent3, spacing: Double) -> [Double] {
        let step = max(1, Int(4 / spacing))
        let ci = (n.i + step - 1) / step
        let cj = (n.j + step - 1) / step
        var height = [Double](repeating: 0, count: ci * cj)
        var weight = [Double](repeating: 0, count: ci * cj)
        for j in 0..<n.j {
            for i in 0..<n.i where column[i + n.i * j] > -.infinity {
                let c = i / step + ci * (j / step)
                height[c] += column[i + n.i * j]
                weight[c] += 1
            }
        }
        func blur(_ a: inout [Double], sigmaCells: Double) {
            let r = Int(3 * sigmaCells)
            let w = (-r...r).map { exp(-Double($0 * $0) / (2 * sigmaCells * sigmaCells)) }
            var t = a
            for j in 0..<cj {
                for i in 0..<ci {
                    var acc = 0.0
                    for d in -r...r {
                        let ii = i + d
                        if ii >= 0 && ii < ci { acc += w[d + r] * a[ii + ci * j] }
                    }
                    t[i + ci * j] = acc
                }
            }
            for j in 0..<cj {
                for i in 0..<ci {
                    var acc = 0.0
                    for d in -r...r {
                        let jj = j + d
                        if jj >= 0 && jj < cj { acc += w[d + r] * t[i + ci * jj] }
                    }
                    a[i + ci * j] = acc
                }
            }
        }
        var local = zip(height, weight).map { $1 > 0 ? $0 / $1 : 0 }
        var h = height
        var w = weight
        let sigma = 30 / (Double(step) * spacing)
        blur(&h, sigmaCells: sigma)
        blur(&w, sigmaCells: sigma)
        for c in local.indices where weight[c] == 0 { local[c] = w[c] > 1e-6 ? h[c] / w[c] : (height.max() ?? 0) }
        blur(&local, sigmaCells: 8 / (Double(step) * spacing))
        var norm = [Double](repeating: 1, count: ci * cj)
        blur(&norm, sigmaCells: 8 / (Double(step) * spacing))
        var out = [Double](repeating: 0, count: n.i * n.j)
        for j in 0..<n.j {
            for i in 0..<n.i {
                let c = i / step + ci * (j / step)
                out[i + n.i * j] = max(local[c] / norm[c], column[i + n.i * j])
            }
        }
        return out
    }

    /// The in-plane box (lo, hi in x, y) round the organs' extent, plus `margin`, over the slices from z0 to z1.
    func bodyBox(from z0: Double, to z1: Double, margin: Double) -> (SIMD2<Double>, SIMD2<Double>) {
        var lo = SIMD2(repeating: Double.infinity)
        var hi = SIMD2(repeating: -Double.infinity)
        for k in slice(at: z0)...max(slice(at: z0), slice(at: z1)) {
            for b in 0..<Self.bins {
                let a = Self.angle(ofBin: b)
                let q = centre[k] + SIMD2(cos(a), sin(a)) * (envelope[k][b] + margin)
                lo = pointwiseMin(lo, q)
                hi = pointwiseMax(hi, q)
            }
        }
        return (lo, hi)
    }

    /// The layout's slice nearest to height z.
    func slice(at z: Double) -> Int {
        min(grid.size.k - 1, max(0, Int(((z - grid.origin.z) / grid.spacing.z).rounded())))
    }

    /// The diaphragm's height over the point (x, y).
    func domeHeight(x: Double, y: Double) -> Double {
        let i = min(grid.size.i - 1, max(0, Int(((x - grid.origin.x) / grid.spacing.x).rounded())))
        let j = min(grid.size.j - 1, max(0, Int(((y - grid.origin.y) / grid.spacing.y).rounded())))
        return dome[i + grid.size.i * j]
    }
}
