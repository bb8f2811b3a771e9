import Phantom
import Volumes

#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// A synthesized CT with its 16 WORD labels on the same (scanner) grid.
public struct SynthesizedScan: Sendable {
    public var image: Volume<Int16>
    public var labels: Volume<UInt8>
    public var parameters: SynthesisParameters
}

/// Abdominal CT synthesized on real anatomy, SynthSeg-style (Billot et al., Medical Image
/// Analysis 86:102789, 2023): a WORD label map, randomly deformed and cropped to a random field
/// of view; the trunk WORD leaves unlabelled drawn around its organs (TrunkLayout,
/// TrunkPainter); HU per tissue drawn per scan for its contrast phase (TissueRanges), texture
/// and content inside the organs (OrganAppearance); then the scanner: slice profile, blur,
/// correlated noise and streaks. The same map, seed and options give the same scan.
public enum CTSynthesizer {
    /// Fine-grid voxels above which the field of view is shortened (memory and time per scan).
    static let voxelBudget = 56_000_000

    public static func synthesize(
        _ source: Volume<UInt8>, anatomy: String, _ options: SynthesisOptions,
        threads: Int = 1
    ) throws -> SynthesizedScan {
        var rng = SeededGenerator(seed: options.seed &* 0x2545_F491_4F6C_DD1D)
        var p = SynthesisParameters.draw(options, anatomy: anatomy, using: &rng)
        let boxes = LabelBoxes(source)
        guard boxes.present[1], boxes.present[3], boxes.present[4], boxes.present[15], boxes.present[16] else {
            throw SynthesisError.missingOrgans(anatomy)
        }
        let (lo, hi) = boxes.all
        let centre = (lo + hi) / 2
        var warpRng = rng.fork(1)
        let warp = AnatomyWarp(p, centre: centre, span: (lo - 200, hi + 200), using: &warpRng)

        // The whole warped anatomy on a coarse grid, for the trunk's layout.
        var outLo = SIMD3(repeating: Double.infinity)
        var outHi = SIMD3(repeating: -Double.infinity)
        for c in 0..<8 {
            let q = warp.forwardPoint(
                SIMD3(c & 1 == 0 ? lo.x : hi.x, c & 2 == 0 ? lo.y : hi.y, c & 4 == 0 ? lo.z : hi.z))
            outLo = pointwiseMin(outLo, q)
            outHi = pointwiseMax(outHi, q)
        }
        outLo -= 20
        outHi += 20
        let coarse = grid(outLo, outHi, spacing: SIMD3(2, 2, 3))
        let layout = try TrunkLayout(
            labels: warp.labels(from: source, on: coarse, threads: threads), grid: coarse, kidneyFat: p.perirenalFatMM)

        // The scanner's field of view along z, then in-plane round the body with a margin.
        var fovRng = rng.fork(2)
        var (bottom, top) = fieldOfView(p.fieldOfView, layout, using: &fovRng)
        bottom = max(bottom, outLo.z)
        top = min(top, outHi.z)
        let (boxLo, boxHi) = layout.bodyBox(
            from: bottom, to: top, margin: p.visceralFatMM + p.abdominalWallMM + 1.5 * p.subcutaneousFatMM + 15)
        let spineBack = layout.kidneyCentre.y + 100 + p.subcutaneousFatMM + (p.table ? 45 : 10)
        var fineLo = SIMD3(boxLo.x, boxLo.y, bottom)
        var fineHi = SIMD3(boxHi.x, max(boxHi.y, spineBack), top)
        // Thick slices integrate sub-slices; thin ones are read off a grid of at most 1.6 mm.
        let subSlices = max(1, Int((p.sliceSpacing / 1.6).rounded(.up)))
        let fineZ = p.sliceSpacing >= 1.6 ? p.sliceSpacing / Double(subSlices) : 1.6
        let s = SIMD3(p.pixelSpacing, p.pixelSpacing, fineZ)
        let perSlice = ((fineHi.x - fineLo.x) / s.x + 1) * ((fineHi.y - fineLo.y) / s.y + 1)
        let maxHeight = Double(voxelBudget) / perSlice * fineZ
        if fineHi.z - fineLo.z > maxHeight {
            let start = fovRng.uniform(fineLo.z...(fineHi.z - maxHeight))
            fineLo.z = start
            fineHi.z = start + maxHeight
        }
        let fine = grid(fineLo, fineHi, spacing: s)
        let labels = warp.labels(from: source, on: fine, threads: threads)
        var trunkRng = rng.fork(3)
        let painter = TrunkPainter(layout: layout, grid: fine, parameters: p, using: &trunkRng)
        var valueRng = rng.fork(4)
        let values = TissueValues(phase: p.phase, randomContrast: p.randomContrast, using: &valueRng)
        var appearanceRng = rng.fork(5)
        let appearance = OrganAppearance(
            values: values, parameters: p, boxes: LabelBoxes(Volume(geometry: fine, voxels: labels)),
            span: (fineLo - 10, fineHi + 10), using: &appearanceRng)
        var hu = render(
            labels: labels, grid: fine, painter: painter, appearance: appearance, values: values, threads: threads)
        var implantRng = rng.fork(7)
        HipImplants.paint(
            &hu, grid: fine, layout: layout, sides: p.hipImplants.map { $0 == "left" ? 0 : 1 }, using: &implantRng)
        var scannerRng = rng.fork(6)
        let scan = ScannerModel.acquire(
            &hu, labels: labels, fine: fine, parameters: p, layout: layout, using: &scannerRng)
        p.anatomy = anatomy
        return SynthesizedScan(image: scan.image, labels: scan.labels, parameters: p)
    }

    /// An LPS-aligned grid from lo to hi (mm) with the given spacing.
    static func grid(_ lo: SIMD3<Double>, _ hi: SIMD3<Double>, spacing: SIMD3<Double>) -> Geometry {
        let size = ((hi - lo) / spacing).rounded(.up)
        return Geometry(size: Extent3(Int(size.x) + 1, Int(size.y) + 1, Int(size.z) + 1), spacing: spacing, origin: lo)
    }

    /// The z range (bottom, top) the scan covers, by the kind of examination.
    static func fieldOfView(_ kind: FieldOfView, _ l: TrunkLayout, using rng: inout SeededGenerator) -> (Double, Double)
    {
        let top = l.liverTop + rng.uniform(10...50)
        let belowHeads = l.headBottom - rng.uniform(0...30)
        switch kind {
        case .abdomenPelvis: return (belowHeads, top)
        case .upperAbdomen: return (l.kidneyBottom - rng.uniform(0...60), top)
        case .pelvis: return (belowHeads, l.kidneyBottom + rng.uniform(-50...30))
        }
    }

    /// HU on the fine grid: the trunk's tissues where the label is 0, the organs' appearance elsewhere.
    static func render(
        labels: [UInt8], grid: Geometry, painter: TrunkPainter, appearance: OrganAppearance,
        values: TissueValues, threads: Int
    ) -> [Float] {
        let n = grid.size
        let discs = painter.tubes.bucketed(slices: (0..<n.k).map { grid.origin.z + grid.spacing.z * Double($0) })
        var hu = [Float](repeating: 0, count: n.count)
        var tissue = [UInt8](repeating: 0, count: n.count)
        let texture = appearance.texture
        let coarse = appearance.coarse
        labels.withUnsafeBufferPointer { labelBuffer in
            nonisolated(unsafe) let lab = labelBuffer
            tissue.withUnsafeMutableBufferPointer { tissueBuffer in
                nonisolated(unsafe) let tis = tissueBuffer
                hu.withUnsafeMutableBufferPointer { huBuffer in
                    nonisolated(unsafe) let out = huBuffer
                    Parallel.forEach(n.k, threads: threads) { k in
                        painter.paint(slice: k, labels: lab, tissue: tis, discs: discs[k])
                        let depth = InPlaneDepth.slice(k, labels: lab, size: n, spacing: grid.spacing.x)
                        let pieces = LumenLevels.slice(k, labels: lab, grid: grid, fraction: appearance.gasFraction)
                        let z = grid.origin.z + grid.spacing.z * Double(k)
                        for j in 0..<n.j {
                            let y = grid.origin.y + grid.spacing.y * Double(j)
                            for i in 0..<n.i {
                                let v = i + n.i * (j + n.j * k)
                                let q = SIMD3(grid.origin.x + grid.spacing.x * Double(i), y, z)
                                let l = lab[v]
                                if l != 0 {
                                    out[v] = appearance.hu(
                                        label: l, at: q, depth: Double(depth[i + n.i * j]), piece: pieces[i + n.i * j])
                                    continue
                                }
                                let code = Int(tis[v])
                                if code >= 64 {
                                    out[v] = painter.customHU[code - 64] + texture.value(q) * 6
                                } else {
                                    let t = Tissue(rawValue: code) ?? .air
                                    var value = values[t]
                                    if t != .air {
                                        value +=
                                            texture.value(q) * values.textureOf(t) + coarse.value(q)
                                            * values.textureOf(t) * 0.5
                                    }
                                    out[v] = value
                                }
                            }
                        }
                    }
                }
            }
        }
        return hu
    }
}

/// In-plane distance (mm) from each labelled voxel to the nearest voxel of another label, by a
/// two-pass chamfer transform per slice: walls, cortex and lumen by depth under the surface.
enum InPlaneDepth {
    static func slice(_ k: Int, labels: UnsafeBufferPointer<UInt8>, size n: Extent3, spacing: Double) -> [Float] {
        let base = n.i * n.j * k
        let big: Float = 1e9
        var d = [Float](repeating: 0, count: n.i * n.j)
        let a = Float(spacing)
        let b = Float(spacing * 2.0.squareRoot())
        for j in 0..<n.j {
            for i in 0..<n.i {
                let l = labels[base + i + n.i * j]
                guard l != 0 else { continue }
                var edge = i == 0 || j == 0 || i == n.i - 1 || j == n.j - 1
                if !edge {
                    let v = base + i + n.i * j
                    edge = labels[v - 1] != l || labels[v + 1] != l || labels[v - n.i] != l || labels[v + n.i] != l
                }
                d[i + n.i * j] = edge ? a / 2 : big
            }
        }
        for j in 1..<max(1, n.j - 1) {
            for i in 1..<max(1, n.i - 1) where d[i + n.i * j] > 0 {
                let v = i + n.i * j
                d[v] = min(d[v], d[v - 1] + a, d[v - n.i] + a, d[v - n.i - 1] + b, d[v - n.i + 1] + b)
            }
        }
        for j in stride(from: n.j - 2, to: 0, by: -1) {
            for i in stride(from: n.i - 2, to: 0, by: -1) where d[i + n.i * j] > 0 {
                let v = i + n.i * j
                d[v] = min(d[v], d[v + 1] + a, d[v + n.i] + a, d[v + n.i + 1] + b, d[v + n.i - 1] + b)
            }
        }
        return d
    }
}
