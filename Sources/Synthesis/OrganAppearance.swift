import Phantom
import Volumes

/// How each WORD organ looks inside its label on one synthesized scan: parenchyma with texture,
/// vessels and lesions; renal cortex and medulla; walls and content of the hollow organs (gas,
/// fluid, food, stool, oral contrast, with a level where gas and fluid meet); bile, urine, bone.
struct OrganAppearance {
    let values: TissueValues
    let p: SynthesisParameters
    let texture: ValueNoise, coarse: ValueNoise, vesselA: ValueNoise, vesselB: ValueNoise
    let loops: ValueNoise, bubbles: ValueNoise
    let cortex: Double, sinus: Double, sinusHU: Float
    let wall: [Double]  // wall thickness per label (mm)
    /// Per label, the mean fraction of a lumen's height (from its non-dependent side) above its
    /// gas-fluid level; `levelSpread` varies it from segment to segment (LumenLevels).
    let levelFraction: [Double]
    let levelSpread: ValueNoise
    let lesions: [(centre: SIMD3<Double>, radius: Double, hu: Float)]
    let fattyPancreas: Bool
    let oesophagealAir: Bool
    let vesselWidth: Float
    /// Colon segments: where this field is below `stoolBelow` the lumen holds stool, below
    /// `gasBelow` gas over fluid, elsewhere the scan's drawn colon content. A real colon is
    /// rarely one content end to end (TotalSegmentator's example: 21 % gas, 40 % stool below
    /// −20 HU with its bubbles, 39 % fluid-like).
    let colonSegments: ValueNoise
    let stoolBelow: Float, gasBelow: Float
    /// Stool is gas where the bubble field exceeds this: mottled with many or few bubbles.
    let stoolBubbles: Float
    /// The share of a piece's gas fraction left to gas above stool (gas over faeces, as in the
    /// real example's flexures), 0 in some scans.
    let stoolGas: Float
    /// Haustral folds of the colon and rugae of the stomach: sheets of wall reaching `depth` mm
    /// into the lumen where their field crosses zero. Against gas they are what tells a colon
    /// from a stomach (the real example's gas-filled transverse colon was called stomach).
    let haustra: ValueNoise, rugae: ValueNoise
    let haustraDepth: Double, rugaeDepth: Double

    init(
        values: TissueValues, parameters: SynthesisParameters, boxes: LabelBoxes, span: (SIMD3<Double>, SIMD3<Double>),
        using rng: inout SeededGenerator
    ) {
        self.values = values
        p = parameters
        texture = ValueNoise(lower: span.0, upper: span.1, spacing: rng.uniform(3...7), using: &rng)
        coarse = ValueNoise(lower: span.0, upper: span.1, spacing: 25, using: &rng)
        vesselA = ValueNoise(lower: span.0, upper: span.1, spacing: rng.uniform(10...18), using: &rng)
        vesselB = ValueNoise(lower: span.0, upper: span.1, spacing: rng.uniform(10...18), using: &rng)
        loops = ValueNoise(lower: span.0, upper: span.1, spacing: rng.uniform(9...15), using: &rng)
        bubbles = ValueNoise(lower: span.0, upper: span.1, spacing: rng.uniform(2.5...5), using: &rng)
        cortex = rng.uniform(3.5...7)
        sinus = rng.uniform(9...14)
        sinusHU = Float(rng.chance(0.5) ? rng.uniform(-90 ... -30) : rng.uniform(-5...40))
        var w = [Double](repeating: 0, count: 17)
        w[5] = rng.uniform(3...7)
        w[6] = rng.uniform(1.5...3)
        w[7] = rng.uniform(2...4)
        w[9] = rng.uniform(1.5...3)
        w[10] = rng.uniform(1.5...3)
        w[11] = rng.uniform(1.5...3)
        w[13] = rng.uniform(2...4)
        w[14] = rng.uniform(2...4)
        w[15] = rng.uniform(1.5...3)
        w[16] = w[15]
        wall = w
        levelFraction = (0..<17).map { _ in rng.uniform(0.15...0.75) }
        levelSpread = ValueNoise(lower: span.0, upper: span.1, spacing: rng.uniform(30...60), using: &rng)
        var found: [(SIMD3<Double>, Double, Float)] = []
        for _ in 0..<Int(rng.uniform(0...3.99)) where boxes.present[1] {
            let c =
                boxes.lower[1] + (boxes.upper[1] - boxes.lower[1])
                * SIMD3(rng.uniform(0.2...0.8), rng.uniform(0.2...0.8), rng.uniform(0.2...0.8))
            found.append(
                (
                    c, rng.uniform(3...18),
                    Float(rng.chance(0.5) ? rng.uniform(0...20) : Double(values[.liver]) - rng.uniform(20...60))
                ))
        }
        lesions = found
        fattyPancreas = rng.chance(0.35)
        oesophagealAir = rng.chance(0.5)
        vesselWidth = Float(rng.uniform(0.06...0.14))
        colonSegments = ValueNoise(lower: span.0, upper: span.1, spacing: rng.uniform(40...90), using: &rng)
        stoolBelow = Float(rng.uniform(-1.0...0.6))
        gasBelow = stoolBelow + Float(rng.uniform(0...1.2))
        stoolBubbles = Float(rng.uniform(0.3...0.9))
        stoolGas = rng.chance(0.3) ? 0 : Float(rng.uniform(0.2...0.8))
        haustra = ValueNoise(lower: span.0, upper: span.1, spacing: rng.uniform(14...24), using: &rng)
        rugae = ValueNoise(lower: span.0, upper: span.1, spacing: rng.uniform(7...12), using: &rng)
        haustraDepth = rng.chance(0.15) ? 0 : rng.uniform(4...12)
        rugaeDepth = rng.chance(0.4) ? 0 : rng.uniform(2...5)  // a distended stomach smooths them out
    }

    /// The fraction of the lumen above the level for the segment of `label` centred at c.
    func gasFraction(_ label: UInt8, at c: SIMD3<Double>) -> Double {
        min(1, max(0, levelFraction[Int(label)] + 0.3 * Double(levelSpread.value(c))))
    }

    /// HU of a voxel of organ `label` at p, `depth` mm in from the organ's edge (in-plane);
    /// `piece` is the in-plane piece of a hollow organ it lies in (LumenLevels).
    func hu(label: UInt8, at p: SIMD3<Double>, depth: Double, piece: LumenLevels.Piece) -> Float {
        let v = values
        let tex = texture.value(p)
        switch label {
        case 1:
            for lesion in lesions {
                let d = p - lesion.centre
                if (d * d).sum() < lesion.radius * lesion.radius { return lesion.hu + tex * 4 }
            }
            if abs(vesselA.value(p)) < vesselWidth && abs(vesselB.value(p)) < vesselWidth * 1.5 && depth > 3 {
                return v[.liverVessel] + tex * 5
            }
            return v[.liver] + tex * v.textureOf(.liver) + coarse.value(p) * 4
        case 2: return v[.spleen] + tex * v.textureOf(.spleen) + coarse.value(p) * 3
        case 3, 4:
            if depth < cortex { return v[.kidneyCortex] + tex * v.textureOf(.kidneyCortex) }
            if depth > sinus { return self.p.phase == .delayed ? v[.excretedUrine] : sinusHU }
            return v[.kidneyMedulla] + tex * v.textureOf(.kidneyMedulla)
        case 5: return hollow(label, p, depth, piece, content: self.p.stomachContent, wallTissue: .stomachWall)
        case 6: return depth < wall[6] ? v[.stomachWall] : v[.bile] + tex * 2
        case 7:
            if oesophagealAir && depth > wall[7] + 1.5 { return v[.gas] }
            return v[.esophagusWall] + tex * 3
        case 8:
            if fattyPancreas && bubbles.value(p) > 0.6 { return v[.visceralFat] * 0.6 + tex * 8 }
            return v[.pancreas] + tex * v.textureOf(.pancreas)
        case 9:
            return hollow(
                label, p, depth, piece, content: self.p.smallBowelContent == "collapsed" ? "collapsed" : "fluid",
                wallTissue: .bowelWall)
        case 10, 13: return hollow(label, p, depth, piece, content: colonContent(at: p), wallTissue: .bowelWall)
        case 11:
            if abs(loops.value(p)) < 0.12 { return v[.bowelWall] + tex * 4 }  // walls between loops
            return hollow(label, p, depth, piece, content: self.p.smallBowelContent, wallTissue: .bowelWall)
        case 12: return v[.adrenal] + tex * 4
        case 14:
            if depth < wall[14] { return v[.bowelWall] + tex * 3 }
            return self.p.bladderContrast && p.y > piece.level() ? v[.excretedUrine] : v[.urine] + tex * 2
        case 15, 16:
            // The femoral head's trabecular bone is denser than the spine's.
            return depth < wall[15]
                ? v[.corticalBone] * 0.8 + tex * 40 : v[.cancellousBone] + 80 + tex * v.textureOf(.cancellousBone)
        default: return v[.visceralFat]
        }
    }

    /// What the colon holds at p (see `colonSegments`).
    func colonContent(at p: SIMD3<Double>) -> String {
        let s = colonSegments.value(p)
        return s < stoolBelow ? "stool" : s < gasBelow ? "gas" : self.p.colonContent
    }

    private func hollow(
        _ label: UInt8, _ p: SIMD3<Double>, _ depth: Double, _ piece: LumenLevels.Piece, content: String,
        wallTissue: Tissue
    ) -> Float {
        let v = values
        let tex = texture.value(p)
        if depth < wall[Int(label)] || content == "collapsed" { return v[wallTissue] + tex * 6 }
        if label == 10 && depth < wall[10] + haustraDepth && abs(haustra.value(p)) < 0.08 {
            return v[wallTissue] + tex * 6
        }
        if label == 5 && depth < wall[5] + rugaeDepth && abs(rugae.value(p)) < 0.08 { return v[wallTissue] + tex * 6 }
        let bubble = bubbles.value(p)
        switch content {
        case "gas", "gas-fluid": return p.y < piece.level() || bubble > 1.1 ? v[.gas] : v[.fluid] + tex * 3
        case "food": return bubble > 1.0 ? v[.gas] : v[.stool] + tex * 12
        case "stool":
            return p.y < piece.level(stoolGas) || bubble > stoolBubbles
                ? v[.gas] : v[.stool] + tex * v.textureOf(.stool)
        case "oral-contrast": return p.y < piece.level(0.5) && bubble > 0.2 ? v[.gas] : v[.oralContrast] + tex * 25
        default: return v[.fluid] + tex * 3
        }
    }
}
