import Phantom
import Volumes

#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// The unlabelled trunk of one synthesized scan: body wall, fat, skeleton, muscles, vessels,
/// lungs, heart, table and clutter, placed by a `TrunkLayout`, written as tissue codes
/// (`Tissue.rawValue`, or 64 + n for the n-th custom value) into voxels whose label is 0.
struct TrunkPainter {
    let layout: TrunkLayout
    /// The fine grid the painter writes (the layout has its own, coarser one).
    let grid: Geometry
    let p: SynthesisParameters
    // Drawn sizes (mm).
    let vertebra: SIMD2<Double>  // lateral and antero-posterior semi-axes of a vertebral body
    let levelHeight: Double, discFraction: Double, levelPhase: Double
    let spineShift: Double  // vertebral body centre behind the kidneys' centres
    let promontory: Double  // z of the lumbosacral junction
    let aortaRadius: Double, bifurcation: Double
    let ribPitch: Double, ribPhase: Double
    let diaphragm: Double
    let recess: Double  // how far the lungs reach below the dome at the back (mm)
    let paraspinal: SIMD2<Double>  // semi-axes of each erector spinae
    let fatShape: [Double]  // subcutaneous fat per angle bin, relative
    let tableGap: Double, tableThickness: Double
    var tubes = TubeSet()
    var customHU: [Float] = []
    /// The code of the table's foam core (between its two dense skins).
    var tableFoam: UInt8 = 0
    /// Soft tissue against the lower bladder (mm, 0 in some scans): the obturator internus, the
    /// pelvic floor, the prostate or the uterus, which WORD leaves unlabelled. Without it every
    /// synthesized bladder lay in fat (the 4 mm round it: median −71 HU) while a real one abuts
    /// soft tissue (the real example's: median −37 HU, its lower half missed by the model).
    let pelvicSoftTissueMM: Double
    let pelvicSoftTissueField: ValueNoise

    init(layout: TrunkLayout, grid: Geometry, parameters: SynthesisParameters, using rng: inout SeededGenerator) {
        self.layout = layout
        self.grid = grid
        p = parameters
        let size = parameters.scale.reduce(0, +) / 3
        vertebra = SIMD2(rng.uniform(19...25), rng.uniform(14...18)) * size
        levelHeight = rng.uniform(30...36) * parameters.scale[2]
        discFraction = rng.uniform(0.2...0.3)
        levelPhase = rng.uniform(0...1)
        spineShift = rng.uniform(-6...8)
        promontory = layout.headTop + rng.uniform(45...70) * parameters.scale[2]
        aortaRadius = rng.uniform(8...14)
        bifurcation = max(promontory + 10, layout.kidneyBottom - rng.uniform(10...40))
        ribPitch = rng.uniform(28...38)
        ribPhase = rng.uniform(0...(2 * .pi))
        diaphragm = rng.uniform(3...7)
        recess = rng.uniform(20...70)
        paraspinal = SIMD2(rng.uniform(22...32), rng.uniform(20...30)) * size
        let harmonics = (0..<3).map { _ in (rng.uniform(0...(2 * .pi)), rng.uniform(0...0.25)) }
        fatShape = (0..<TrunkLayout.bins).map { b in
            let a = TrunkLayout.angle(ofBin: b)
            // Thinner over the back (a = +π/2 points posterior in LPS), thicker at the flanks and belly.
            var f = 1 - 0.45 * max(0, sin(a))
            for (n, (phase, amp)) in harmonics.enumerated() { f += amp * sin(Double(n + 2) * a + phase) }
            return max(0.2, f)
        }
        tableGap = rng.uniform(0...8)
        tableThickness = rng.uniform(8...35)
        pelvicSoftTissueMM = rng.chance(0.2) ? 0 : rng.uniform(3...15)
        pelvicSoftTissueField = ValueNoise(
            lower: grid.origin - 10,
            upper: grid.origin + grid.spacing * SIMD3(Double(grid.size.i), Double(grid.size.j), Double(grid.size.k))
                + 10,
            spacing: rng.uniform(15...30), using: &rng)
        buildTubes(using: &rng)
        tableFoam = UInt8(64 + customHU.count)
        customHU.append(Float(rng.uniform(-900 ... -600)))
    }

    /// Vertebral body centre (x, y) at height z: through the oesophageal hiatus (behind the
    /// aorta), between the kidneys, and forward to the promontory (lumbar lordosis).
    func spine(at z: Double) -> SIMD2<Double> {
        let k = layout.kidneyCentre
        var points: [(Double, SIMD2<Double>)] = [(k.z, SIMD2(k.x, k.y + spineShift))]
        if let e = layout.oesophagus, e.z > k.z + 30 { points.append((e.z, SIMD2(e.x - 12, e.y + 38))) }
        let heads = (layout.heads[0] + layout.heads[1]) / 2
        points.append((promontory, SIMD2(heads.x, k.y + spineShift - 12)))
        points.sort { $0.0 < $1.0 }
        if z <= points[0].0 { return points[0].1 }
        for n in 1..<points.count where z <= points[n].0 {
            let t = (z - points[n - 1].0) / (points[n].0 - points[n - 1].0)
            return points[n - 1].1 * (1 - t) + points[n].1 * t
        }
        return points.last!.1
    }

    /// The sacrum's centre at height z (below the promontory): behind the rectum where there is
    /// one, curving back from the promontory otherwise.
    func sacrum(at z: Double) -> SIMD2<Double> {
        let top = spine(at: promontory) + SIMD2(0, vertebra.y + 8)
        let depth = promontory - z
        var c = top + SIMD2(0, 0.25 * depth - 0.0012 * depth * depth)
        if let back = layout.rectumBack[layout.slice(at: z)] { c.y = max(c.y, back + 14) }
        return c
    }

    private mutating func buildTubes(using rng: inout SeededGenerator) {
        let zTop = layout.grid.origin.z + layout.grid.spacing.z * Double(layout.grid.size.k - 1) + 20
        let k = layout.kidneyCentre
        let left = layout.heads[0]
        let right = layout.heads[1]
        func spine3(_ z: Double) -> SIMD3<Double> {
            let s = spine(at: z)
            return SIMD3(s.x, s.y, z)
        }
        // Psoas: from the upper pole of the kidneys down beside the spine, growing, then forward
        // over the pelvic brim in front of the hip joints (as iliopsoas).
        let psoas = rng.uniform(16...26)
        for (side, head) in [(1.0, left), (-1.0, right)] {
            var pts: [SIMD3<Double>] = []
            var radii: [Double] = []
            for z in stride(from: layout.kidneyTop, through: promontory, by: -10) {
                let t = (layout.kidneyTop - z) / max(1, layout.kidneyTop - promontory)
                let r = 5 + (psoas - 5) * t
                let s = spine(at: z)
                pts.append(SIMD3(s.x + side * (vertebra.x + r - 3), s.y + 4, z))
                radii.append(r)
            }
            let front = SIMD3(head.x - side * 8, head.y - layout.headRadius - 14, head.z + 15)
            pts.append(front)
            radii.append(psoas * 0.8)
            pts.append(front + SIMD3(side * 10, -8, -60))
            radii.append(psoas * 0.7)
            tubes.add(pts, radii: radii, .init(tissue: .muscle))
        }
        // Aorta and cava, the iliac vessels towards the femoral heads, the renal vessels.
        var aorta: [SIMD3<Double>] = []
        var cava: [SIMD3<Double>] = []
        for z in stride(from: zTop, through: bifurcation, by: -8) {
            let s = spine(at: z)
            aorta.append(SIMD3(s.x + 0.4 * vertebra.x, s.y - vertebra.y - aortaRadius - 2, z))
            cava.append(SIMD3(s.x - vertebra.x - 4, s.y - vertebra.y - 8, z))
        }
        tubes.add(aorta, radii: aorta.map { _ in aortaRadius }, .init(tissue: .artery))
        let cavaTop = layout.liverTop - rng.uniform(10...40)
        let cavaPoints = cava.filter { $0.z < cavaTop }
        tubes.add(cavaPoints, radii: cavaPoints.map { _ in rng.uniform(9...13) }, .init(tissue: .vein))
        for (side, head) in [(1.0, left), (-1.0, right)] {
            let s = spine(at: bifurcation)
            let start = SIMD3(s.x + side * 5, s.y - vertebra.y - aortaRadius, bifurcation)
            let end = SIMD3(head.x - side * 14, head.y - layout.headRadius - 12, head.z)
            let mid = (start + end) / 2 + SIMD3(0, 10, 0)
            tubes.add([start, mid, end, end + SIMD3(0, -4, -60)], radii: [6, 5.5, 5, 5], .init(tissue: .artery))
            tubes.add(
                [
                    start + SIMD3(-side * 4, 10, 4), mid + SIMD3(0, 8, 0), end + SIMD3(side * 10, 4, 0),
                    end + SIMD3(side * 10, 0, -60)
                ],
                radii: [8, 7, 6.5, 6.5], .init(tissue: .vein))
            let kidney = side > 0 ? SIMD3(k.x + 60, k.y, k.z) : SIMD3(k.x - 60, k.y, k.z)
            let a = aorta.min { abs($0.z - k.z) < abs($1.z - k.z) } ?? start
            tubes.add(
                [SIMD3(a.x, a.y, k.z + 5), SIMD3(kidney.x, kidney.y, k.z + 5)], radii: [3.5, 3], .init(tissue: .artery))
            if let c = cava.min(by: { abs($0.z - k.z) < abs($1.z - k.z) }) {
                tubes.add(
                    [SIMD3(c.x, c.y, k.z - 5), SIMD3(kidney.x, kidney.y - 5, k.z - 5)], radii: [5, 4.5],
                    .init(tissue: .vein))
            }
        }
        // Femoral necks, greater trochanters and shafts; ischium below the heads; pubic rami to the symphysis.
        for (side, head) in [(1.0, left), (-1.0, right)] {
            let r = layout.headRadius
            let neckEnd = head + SIMD3(side * (r + 28), -6, -r - 12)
            tubes.add([head, neckEnd], radii: [r * 0.6, r * 0.7], .init(tissue: .cancellousBone, shell: 2.5))
            tubes.add(
                [neckEnd + SIMD3(side * 8, 6, 25), neckEnd + SIMD3(side * 4, 4, -15)], radii: [14, 16],
                .init(tissue: .cancellousBone, shell: 2.5))
            // The proximal femur is trabecular down past the lesser trochanter; fatty marrow
            // fills the shaft only below (a dark core in a bright ring would read as bowel).
            let shaftTop = neckEnd + SIMD3(0, 0, -10)
            let shaftMid = neckEnd + SIMD3(-side * 4, -2, -80)
            tubes.add([shaftTop, shaftMid], radii: [16, 14], .init(tissue: .cancellousBone, shell: 3))
            tubes.add(
                [shaftMid, neckEnd + SIMD3(-side * 10, -4, -200)], radii: [14, 13], .init(tissue: .marrow, shell: 5))
            let midline =
                layout.bladderFront.map { SIMD3((left.x + right.x) / 2, $0 - 10, head.z - r * 0.4) }
                ?? SIMD3((left.x + right.x) / 2, head.y - r - 25, head.z - r * 0.4)
            tubes.add(
                [head + SIMD3(-side * r * 0.8, -r * 0.6, r * 0.2), midline + SIMD3(side * 4, 0, 0)], radii: [9, 8],
                .init(tissue: .cancellousBone, shell: 2))
            tubes.add(
                [head + SIMD3(-side * r * 0.6, r * 0.8, -r * 0.3), head + SIMD3(-side * r * 0.9, r * 0.9, -r - 45)],
                radii: [12, 11], .init(tissue: .cancellousBone, shell: 2))
        }
        // Clutter in the visceral fat among the organs: what real CT has there besides the labelled
        // gut. Never a gas pocket or a large fluid tube: in WORD every bowel loop is labelled, so
        // gas or fluid in a tube among the mesenteric fat is gut, and clutter like it taught the
        // models to leave fluid-filled loops as background (the real example's colon and small
        // bowel). Lymph nodes are under 10 mm short axis when normal; calcifications (vascular,
        // phleboliths) a few mm; fat stranding and cysts may be larger.
        let lo = SIMD3(k.x - 120, k.y - 110, layout.headTop)
        let hi = SIMD3(k.x + 120, k.y + 10, layout.liverTop)
        for _ in 0..<p.clutterBlobs {
            let c = SIMD3(rng.uniform(lo.x...hi.x), rng.uniform(lo.y...hi.y), rng.uniform(lo.z...hi.z))
            let kind = rng.uniform(0...1)
            let (hu, radius, length): (Double, ClosedRange<Double>, Double) =
                kind < 0.5
                ? (rng.uniform(20...80), 3...7, 8)  // lymph node
                : kind < 0.62
                    ? (rng.uniform(-5...20), 4...12, 4)  // cyst, pocket of fluid
                    : kind < 0.72
                        ? (rng.uniform(200...900), 1...3, 3)  // calcification
                        : (rng.uniform(-70...10), 5...18, 15)  // fat stranding
            let d = SIMD3(rng.gaussian(), rng.gaussian(), rng.gaussian()) * rng.uniform(0...length)
            tubes.add(
                [c - d, c + d], radii: [rng.uniform(radius), rng.uniform(radius)],
                .init(tissue: .visceralFat, onlyInFat: true, code: UInt8(64 + customHU.count)))
            customHU.append(Float(hu))
        }
        for _ in 0..<Int(rng.uniform(10...40)) {
            var q = SIMD3(rng.uniform(lo.x...hi.x), rng.uniform(lo.y...hi.y), rng.uniform(lo.z...hi.z))
            var dir = normalize(SIMD3(rng.gaussian(), rng.gaussian(), rng.gaussian()))
            var pts = [q]
            for _ in 0..<Int(rng.uniform(3...10)) {
                dir = normalize(dir + SIMD3(rng.gaussian(), rng.gaussian(), rng.gaussian()) * 0.4)
                q += dir * rng.uniform(8...20)
                pts.append(q)
            }
            let r = rng.uniform(1.2...4)
            tubes.add(pts, radii: pts.map { _ in r }, .init(tissue: rng.chance(0.5) ? .artery : .vein, onlyInFat: true))
        }
    }

    // MARK: - One slice

    /// Writes the tissue codes of slice k (only where `labels` is 0).
    func paint(
        slice k: Int, labels: UnsafeBufferPointer<UInt8>, tissue: UnsafeMutableBufferPointer<UInt8>,
        discs: [TubeSet.Sample]
    ) {
        let g = grid
        let n = g.size
        let (o, s) = (g.origin, g.spacing)
        let z = o.z + s.z * Double(k)
        let kc = layout.slice(at: z)
        let c = layout.centre[kc]
        let sp = z >= promontory ? spine(at: z) : sacrum(at: z)
        let visceral = p.visceralFatMM
        let wall = p.abdominalWallMM
        let fat = p.subcutaneousFatMM
        // Per bin: the cavity's radius (organs + visceral fat, never cutting the spine, the
        // back muscles or the hips) and the body's.
        var cavity = [Double](repeating: 0, count: TrunkLayout.bins)
        var body = cavity
        // The back (spine and its muscles) widens into the buttocks below the promontory; the
        // hips (trochanters and their muscles) fade in over 30 mm above the femoral heads.
        let pelvic = max(0, min(1, (promontory - z) / 40))
        let back = SIMD2(sp.x, sp.y + vertebra.y + 22)
        let backAxes = SIMD2(70 + 45 * pelvic, 42 + 8 * pelvic)
        let hips = max(0, min(1, (layout.headTop + 40 - z) / 30)) * max(0, min(1, (z - layout.headBottom + 40) / 20))
        for b in 0..<TrunkLayout.bins {
            let a = TrunkLayout.angle(ofBin: b)
            let u = SIMD2(cos(a), sin(a))
            var r = layout.envelope[kc][b] + visceral
            r = max(r, Self.rayExit(from: c, u, back, backAxes) + 2)
            if hips > 0 {
                for h in layout.heads {
                    let side = h.x > c.x ? 1.0 : -1.0
                    r = max(
                        r,
                        Self.rayExit(from: c, u, SIMD2(h.x + side * 30 * hips, h.y + 5), SIMD2(50, 45) * hips) + 4
                            * hips)
                }
            }
            cavity[b] = r
        }
        let smoothed = (0..<TrunkLayout.bins).map { b in
            (cavity[(b + TrunkLayout.bins - 1) % TrunkLayout.bins] + 2 * cavity[b] + cavity[(b + 1) % TrunkLayout.bins])
                / 4
        }
        // A trunk's section is convex: the radius never dips below 92 % of the organs' support
        // function (the farthest reach of any bin towards that direction), which fills the
        // notches between the hips and the back that organs alone leave.
        let support = (0..<TrunkLayout.bins).map { b -> Double in
            let a = TrunkLayout.angle(ofBin: b)
            var h = 0.0
            for b2 in 0..<TrunkLayout.bins {
                let c = cos(a - TrunkLayout.angle(ofBin: b2))
                if c > 0 { h = max(h, smoothed[b2] * c) }
            }
            return h
        }
        for b in 0..<TrunkLayout.bins {
            cavity[b] = max(cavity[b] - visceral * 0.5, smoothed[b], 0.92 * support[b])
            let posterior = max(0, sin(TrunkLayout.angle(ofBin: b)))
            body[b] = cavity[b] + wall * (1 - 0.7 * posterior) + fat * fatShape[b] + 2
        }
        let backSkin = c.y + body[Int(0.75 * Double(TrunkLayout.bins))]  // the bin pointing posterior (+y)
        let thorax = z > layout.kidneyCentre.z - 15
        // Per head: its centre and the squared in-plane radius of the muscle ball round it on this slice.
        let hipReach = layout.heads.map { h -> (SIMD3<Double>, Double) in
            let reach = layout.headRadius + 35 * hips
            return (h, reach * reach - (z - h.z) * (z - h.z))
        }
        for j in 0..<n.j {
            let y = o.y + s.y * Double(j)
            let dy = y - c.y
            let row = n.i * (j + n.j * k)
            for i in 0..<n.i {
                let v = row + i
                guard labels[v] == 0 else { continue }
                let x = o.x + s.x * Double(i)
                let dx = x - c.x
                let r = (dx * dx + dy * dy).squareRoot()
                let af = (atan2(dy, dx) + .pi) / (2 * .pi) * Double(TrunkLayout.bins) - 0.5
                let b0 = Int(af.rounded(.down))
                let t = af - Double(b0)
                let i0 = (b0 + TrunkLayout.bins) % TrunkLayout.bins
                let i1 = (b0 + 1) % TrunkLayout.bins
                let rb = body[i0] * (1 - t) + body[i1] * t
                let rc = cavity[i0] * (1 - t) + cavity[i1] * t
                var code: Tissue
                if r > rb {
                    code = .air
                    if p.table, y > backSkin + tableGap, abs(dx) < 230 {
                        let surface = backSkin + tableGap - (dx * dx) / 1200
                        if y > surface, y < surface + tableThickness {
                            code = (y < surface + 2 || y > surface + tableThickness - 2) ? .table : .air
                            if code == .air {
                                tissue[v] = tableFoam
                                continue
                            }  // the foam core
                        }
                    }
                } else if r > rb - 2 {
                    code = .skin
                } else if r > rc + wall * (1 - 0.7 * max(0, dy / max(r, 1))) {
                    code = .subcutaneousFat
                } else if r > rc {
                    code = .muscle
                    if thorax, let rib = rib(z: z, angle: atan2(dy, dx), depth: r - rc, wall: wall) { code = rib }
                } else {
                    code = .visceralFat
                    // The hip joints sit in muscle (iliopsoas, glutei, obturators), not in fat.
                    if hips > 0 {
                        for (h, reach2) in hipReach where (x - h.x) * (x - h.x) + (y - h.y) * (y - h.y) < reach2 {
                            code = .muscle
                        }
                    }
                    // The lungs reach down behind the liver and spleen (the posterior costophrenic
                    // recesses), between them and the chest wall.
                    let posterior = max(0, dy / max(r, 1))
                    let top = layout.domeHeight(x: x, y: y) - (r > 0.75 * rc ? recess * posterior : 0)
                    // (never behind the spine: the back muscles lie outside the rib cage)
                    if z > top, y < sp.y + vertebra.y + 10 {
                        code = z < top + diaphragm ? .muscle : .lung
                        if code == .lung, abs(dx - 15) < 0.35 * rc, dy < 0.1 * rc { code = .bloodPool }
                    }
                }
                tissue[v] = UInt8(code.rawValue)
            }
        }
        paintPelvicSoftTissue(slice: k, z: z, labels: labels, tissue: tissue)
        paintSkeleton(slice: k, z: z, spine: sp, labels: labels, tissue: tissue)
        paintDiscs(discs, slice: k, labels: labels, tissue: tissue)
    }

    /// Muscle instead of visceral fat within a drawn, noise-varied distance of the bladder, on
    /// the slices from the femoral heads down (fading out 30 mm above their tops), thinner in
    /// front (the fat of the retropubic space).
    private func paintPelvicSoftTissue(
        slice k: Int, z: Double, labels: UnsafeBufferPointer<UInt8>, tissue: UnsafeMutableBufferPointer<UInt8>
    ) {
        let fade = max(0, min(1, (layout.headTop + 30 - z) / 30))
        let reach = pelvicSoftTissueMM * 1.5 * fade
        guard reach > 0.5 else { return }
        let n = grid.size
        let base = n.i * n.j * k
        let bladder = InPlaneDistance.from(
            label: 14, slice: k, labels: labels, size: n, spacing: grid.spacing.x, limit: reach)
        guard let bladder else { return }
        let (o, s) = (grid.origin, grid.spacing)
        let fat = UInt8(Tissue.visceralFat.rawValue)
        let muscle = UInt8(Tissue.muscle.rawValue)
        let centreY = o.y + s.y * bladder.centre.y
        for j in 0..<n.j {
            for i in 0..<n.i {
                let d = bladder.distance[i + n.i * j]
                guard d < reach, tissue[base + i + n.i * j] == fat, labels[base + i + n.i * j] == 0 else { continue }
                let x = o.x + s.x * Double(i)
                let y = o.y + s.y * Double(j)
                // Anterior (smaller y than the bladder's centre): a third of the thickness.
                let front = y < centreY ? 1 - 0.66 * min(1, (centreY - y) / 20) : 1
                let local =
                    pelvicSoftTissueMM * fade * front
                    * (0.75 + 0.5 * Double(pelvicSoftTissueField.value(SIMD3(x, y, z))))
                if d < local { tissue[base + i + n.i * j] = muscle }
            }
        }
    }

    /// The farthest point along the ray c + t·u inside the ellipse (centre e, semi-axes a); 0 if none.
    static func rayExit(from c: SIMD2<Double>, _ u: SIMD2<Double>, _ e: SIMD2<Double>, _ a: SIMD2<Double>) -> Double {
        let d = (c - e) / a
        let w = u / a
        let qa = (w * w).sum()
        let qb = 2 * (d * w).sum()
        let qc = (d * d).sum() - 1
        let disc = qb * qb - 4 * qa * qc
        guard disc >= 0 else { return 0 }
        return max(0, (-qb + disc.squareRoot()) / (2 * qa))
    }

    /// Ribs: oblique bands in the chest wall, falling towards the front, every `ribPitch` mm;
    /// each a flat bone about 10 × 7 mm in section (marrow in a cortex), in the wall's inner part.
    func rib(z: Double, angle: Double, depth: Double, wall: Double) -> Tissue? {
        let fromBack = abs(angle - .pi / 2) > .pi ? 2 * .pi - abs(angle - .pi / 2) : abs(angle - .pi / 2)
        // Over the belly only above the costal margin.
        if fromBack > 2.2, z < layout.liverTop - 40 { return nil }
        let thickness = min(7, max(3, wall - 2))
        guard depth > 1, depth < 1 + thickness else { return nil }
        let phase = sin(2 * .pi * (z + 22 * fromBack) / ribPitch + ribPhase)
        guard phase > 0.82 else { return nil }
        let inner = phase > 0.92 && depth > 2.5 && depth < thickness - 0.5
        return inner ? .cancellousBone : .corticalBone
    }

    private func paintSkeleton(
        slice k: Int, z: Double, spine sp: SIMD2<Double>, labels: UnsafeBufferPointer<UInt8>,
        tissue: UnsafeMutableBufferPointer<UInt8>
    ) {
        // Muscles first, so bone drawn after wins: erector spinae behind the spine, the gluteal
        // muscles behind and beside the pelvis.
        let pelvic = max(0, min(1, (promontory + 20 - z) / 50))
        for side in [-1.0, 1.0] {
            ellipse(
                k, SIMD2(sp.x + side * (paraspinal.x + 8), sp.y + vertebra.y + 12 + paraspinal.y),
                paraspinal * (1 - 0.4 * pelvic),
                .muscle, shell: 0, labels, tissue)
            if pelvic > 0 {
                ellipse(
                    k, SIMD2(sp.x + side * 75, sp.y + 12), SIMD2(55, 42) * pelvic, .muscle, shell: 0, labels, tissue)
            }
        }
        if z >= promontory {
            let level = ((z - promontory) / levelHeight + levelPhase).truncatingRemainder(dividingBy: 1)
            let disc = level < discFraction
            ellipse(
                k, SIMD2(sp.x, sp.y), vertebra, disc ? .disc : .cancellousBone, shell: disc ? 0 : 1.5, labels, tissue)
            // Posterior arch: pedicles and laminae round the canal, the spinous and transverse processes.
            let canal = SIMD2(sp.x, sp.y + vertebra.y + 10)
            if !disc {
                ellipse(k, canal + SIMD2(0, 2), SIMD2(13, 11), .cancellousBone, shell: 1.5, labels, tissue)
                if level > 0.35 {
                    capsule(k, canal + SIMD2(0, 8), canal + SIMD2(0, 42), 4, .cancellousBone, labels, tissue)
                }
                if level > 0.4 && level < 0.75 {
                    for side in [-1.0, 1.0] {
                        capsule(
                            k, canal + SIMD2(side * 8, -2), canal + SIMD2(side * 42, -6), 4, .cancellousBone, labels,
                            tissue)
                    }
                }
            }
            ellipse(k, canal, SIMD2(10, 8), .canal, shell: 0, labels, tissue)
        } else {
            // Sacrum: a wedge, deep (S1's body) at the top, narrowing and thinning downwards.
            let depth = promontory - z
            let half = max(12, 52 - 0.35 * depth)
            ellipse(k, sp, SIMD2(half, max(7, vertebra.y - 0.1 * depth)), .cancellousBone, shell: 2, labels, tissue)
            // Iliac wings from the sacroiliac joints, sweeping forward and out to the crest.
            let crest = promontory + 35
            if z < crest, z > layout.headTop - 5 {
                for h in layout.heads {
                    let side = h.x > sp.x ? 1.0 : -1.0
                    let t = max(0, min(1, (z - layout.headTop) / (crest - layout.headTop)))
                    let joint = SIMD2(sp.x + side * (half - 4), sp.y - 4)
                    let front = SIMD2(h.x + side * (10 + 45 * t), h.y - 25 - 35 * t)
                    // A wing runs obliquely forward and out from the joint, slightly concave
                    // towards the pelvis (the iliac fossa).
                    let bulge = (joint + front) / 2 + SIMD2(side * (8 + 6 * t), 8)
                    let thick = 20 - 13 * t
                    capsule(k, joint, bulge, thick / 2, .cancellousBone, labels, tissue, shell: 2)
                    capsule(k, bulge, front, thick / 2, .cancellousBone, labels, tissue, shell: 2)
                }
            }
        }
        // Acetabula: a bony cup round the medial and upper part of each head.
        for h in layout.heads where abs(z - h.z) < layout.headRadius + 6 {
            let dz = z - h.z
            let r = (max(0, layout.headRadius * layout.headRadius - dz * dz)).squareRoot()
            let side = h.x > sp.x ? 1.0 : -1.0
            ring(k, SIMD2(h.x, h.y), inner: r + 1, outer: r + 7 + (dz > 0 ? 6 : 0), medialSide: -side, labels, tissue)
        }
    }

    // MARK: - Rasterising helpers (slice k, only where the label is 0 and inside the body)

    @inline(__always) private func writable(
        _ v: Int, _ labels: UnsafeBufferPointer<UInt8>, _ tissue: UnsafeMutableBufferPointer<UInt8>
    ) -> Bool {
        guard labels[v] == 0 else { return false }
        let t = tissue[v]
        return t != UInt8(Tissue.air.rawValue) && t != UInt8(Tissue.skin.rawValue)
            && t != UInt8(Tissue.subcutaneousFat.rawValue)
            && t != UInt8(Tissue.table.rawValue) && t < 64
    }

    private func forEachPixel(_ k: Int, _ lo: SIMD2<Double>, _ hi: SIMD2<Double>, _ body: (Int, SIMD2<Double>) -> Void)
    {
        let g = grid
        let n = g.size
        let i0 = max(0, Int(((lo.x - g.origin.x) / g.spacing.x).rounded(.down)))
        let i1 = min(n.i - 1, Int(((hi.x - g.origin.x) / g.spacing.x).rounded(.up)))
        let j0 = max(0, Int(((lo.y - g.origin.y) / g.spacing.y).rounded(.down)))
        let j1 = min(n.j - 1, Int(((hi.y - g.origin.y) / g.spacing.y).rounded(.up)))
        guard i0 <= i1, j0 <= j1 else { return }
        for j in j0...j1 {
            let y = g.origin.y + g.spacing.y * Double(j)
            for i in i0...i1 {
                body(i + n.i * (j + n.j * k), SIMD2(g.origin.x + g.spacing.x * Double(i), y))
            }
        }
    }

    private func ellipse(
        _ k: Int, _ c: SIMD2<Double>, _ a: SIMD2<Double>, _ t: Tissue, shell: Double,
        _ labels: UnsafeBufferPointer<UInt8>, _ tissue: UnsafeMutableBufferPointer<UInt8>
    ) {
        let inner = a - shell
        forEachPixel(k, c - a, c + a) { v, q in
            let d = (q - c) / a
            guard (d * d).sum() <= 1, writable(v, labels, tissue) else { return }
            let e = (q - c) / inner
            tissue[v] = UInt8((shell > 0 && (e * e).sum() > 1 ? Tissue.corticalBone : t).rawValue)
        }
    }

    private func capsule(
        _ k: Int, _ a: SIMD2<Double>, _ b: SIMD2<Double>, _ r: Double, _ t: Tissue,
        _ labels: UnsafeBufferPointer<UInt8>, _ tissue: UnsafeMutableBufferPointer<UInt8>, shell: Double = 0
    ) {
        let ab = b - a
        let len2 = max((ab * ab).sum(), 1e-9)
        forEachPixel(k, pointwiseMin(a, b) - r, pointwiseMax(a, b) + r) { v, q in
            let u = min(max(((q - a) * ab).sum() / len2, 0), 1)
            let d = q - (a + ab * u)
            let dist = (d * d).sum().squareRoot()
            guard dist <= r, writable(v, labels, tissue) else { return }
            tissue[v] = UInt8((shell > 0 && dist > r - shell ? Tissue.corticalBone : t).rawValue)
        }
    }

    /// A ring between two radii on the side of the centre that `medialSide` (±1 along x) points to.
    private func ring(
        _ k: Int, _ c: SIMD2<Double>, inner: Double, outer: Double, medialSide: Double,
        _ labels: UnsafeBufferPointer<UInt8>, _ tissue: UnsafeMutableBufferPointer<UInt8>
    ) {
        forEachPixel(k, c - outer, c + outer) { v, q in
            let d = q - c
            let r = (d * d).sum().squareRoot()
            guard r >= inner, r <= outer, d.x * medialSide > -0.3 * r, writable(v, labels, tissue) else { return }
            tissue[v] = UInt8((r > outer - 2 || r < inner + 1.5 ? Tissue.corticalBone : Tissue.cancellousBone).rawValue)
        }
    }

    /// Tube cross-sections; bone tubes in two passes (cortex, then the inside) so a later disc's
    /// shell never cuts into an earlier disc's inside.
    private func paintDiscs(
        _ discs: [TubeSet.Sample], slice k: Int, labels: UnsafeBufferPointer<UInt8>,
        tissue: UnsafeMutableBufferPointer<UInt8>
    ) {
        var start = 0
        while start < discs.count {
            var end = start
            while end < discs.count && discs[end].tube == discs[start].tube { end += 1 }
            let tube = tubes.tubes[discs[start].tube]
            let code = tube.code ?? UInt8(tube.tissue.rawValue)
            for pass in 0..<(tube.shell > 0 ? 2 : 1) {
                for d in discs[start..<end] {
                    let r = pass == 0 ? d.radius : d.radius - tube.shell
                    guard r > 0 else { continue }
                    let c = SIMD2(d.x, d.y)
                    forEachPixel(k, c - r, c + r) { v, q in
                        let e = q - c
                        guard (e * e).sum() <= r * r, writable(v, labels, tissue) else { return }
                        if tube.onlyInFat && tissue[v] != UInt8(Tissue.visceralFat.rawValue) { return }
                        tissue[v] = tube.shell > 0 && pass == 0 ? UInt8(Tissue.corticalBone.rawValue) : code
                    }
                }
            }
            start = end
        }
    }
}
