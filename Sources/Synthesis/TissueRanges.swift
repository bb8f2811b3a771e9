import Phantom

/// Attenuation ranges (HU) per tissue and contrast phase, from which each synthesized scan draws
/// its own values (uniformly inside the range: a population, not one patient).
///
/// Sources, and how the ranges were set: typical values of unenhanced tissue from standard CT
/// tables (fat −120…−80, muscle 35…60 (down to 15 with the fatty infiltration of age), water-like fluids 0…25, cancellous bone 100…350 falling
/// with age, cortical bone > 600; e.g. Radiopaedia "Hounsfield unit"; Schreiber et al., J Bone
/// Joint Surg Am 93:1057, 2011 for vertebral cancellous bone); enhancement by phase from Bae,
/// Radiology 256:32, 2010 (aortic and hepatic enhancement curves: aorta 250-400 arterial,
/// 150-200 portal venous; liver +50-70 HU at portal venous), Foley et al., AJR 175:679, 2000
/// (multiphase liver), Yuh & Cohan, AJR 173:747, 1999 (renal corticomedullary, nephrographic
/// and excretory phases), Glazer et al., AJR 137:343, 1981 (heterogeneous arterial spleen).
/// Fat, muscle and bone were checked against TotalSegmentator's example CT and its tissue maps
/// (docs/SYNTHESIS.md), the one real scan the project validates on. Each range is wider than a
/// textbook value on purpose: scanners, kVp, contrast dose and timing all move it (SynthSeg's
/// lesson: randomize beyond the typical and the network stops relying on exact values).
enum Tissue: Int, CaseIterable, Sendable {
    // Background (what WORD leaves at 0).
    case air, skin, subcutaneousFat, visceralFat, muscle, corticalBone, cancellousBone, marrow, disc, canal
    case lung, artery, vein, portalVein, bloodPool, table
    // Organ compartments.
    case liver, liverVessel, spleen, pancreas, adrenal, kidneyCortex, kidneyMedulla, excretedUrine
    case bowelWall, stomachWall, esophagusWall, bile, urine, gas, fluid, oralContrast, stool

    /// [native, arterial, portal venous, delayed] ranges.
    var ranges: [ClosedRange<Double>] {
        switch self {
        case .air: all(-1024 ... -980)
        case .skin: all(0...60)
        case .subcutaneousFat: all(-125 ... -85)
        case .visceralFat: all(-120 ... -70)
        case .muscle: [15...60, 25...70, 30...75, 30...70]
        case .corticalBone: all(550...1300)
        case .cancellousBone: all(100...380)
        case .marrow: all(-90...60)
        case .disc: all(60...120)
        case .canal: all(0...40)
        case .lung: all(-920 ... -760)
        case .artery: [30...55, 220...450, 130...220, 90...150]
        case .vein: [30...55, 50...140, 110...200, 90...150]
        case .portalVein: [30...55, 70...160, 140...230, 100...160]
        case .bloodPool: [30...55, 180...420, 120...210, 90...150]
        case .table: all(-450...250)
        case .liver: [30...75, 50...95, 85...140, 70...115]
        case .liverVessel: [25...50, 60...160, 140...230, 100...160]
        case .spleen: [28...60, 80...170, 95...145, 80...120]
        case .pancreas: [10...55, 70...160, 65...125, 55...105]
        case .adrenal: [0...45, 40...100, 45...95, 40...80]
        case .kidneyCortex: [15...45, 140...260, 130...220, 110...190]
        case .kidneyMedulla: [15...45, 55...120, 120...230, 120...200]
        case .excretedUrine: [0...20, 0...25, 0...40, 200...1100]
        case .bowelWall: [30...55, 60...120, 70...130, 60...100]
        case .stomachWall: [30...55, 60...120, 70...130, 60...100]
        case .esophagusWall: [30...55, 45...90, 55...95, 50...85]
        case .bile: all(-5...35)
        case .urine: all(-5...20)
        case .gas: all(-1010 ... -850)
        case .fluid: all(-5...30)
        case .oralContrast: all(150...600)
        // Faecal residue mixes fat-density matter, water and trapped gas: the example CT's colon
        // content the model missed lay at −150…+30 HU, 60 % of it below 0.
        case .stool: all(-110...40)
        }
    }

    private func all(_ r: ClosedRange<Double>) -> [ClosedRange<Double>] { [r, r, r, r] }
}

/// One scan's drawn HU per tissue, and the strength of each tissue's texture.
struct TissueValues: Sendable {
    var hu: [Float]
    var texture: [Float]

    /// Soft tissues whose HU a randomized-contrast scan draws anew, ignoring the phase.
    static let randomizable: [Tissue] = [
        .muscle, .liver, .spleen, .pancreas, .adrenal, .kidneyCortex, .kidneyMedulla,
        .bowelWall, .stomachWall, .esophagusWall, .bile, .urine, .fluid, .artery, .vein,
        .portalVein, .bloodPool, .liverVessel
    ]
    static let randomContrastHU: ClosedRange<Double> = -20...200

    /// `randomContrast`: every soft tissue takes any value in −20…200 HU, independently
    /// (SynthSeg's randomized contrast): an organ is then known by its shape and place, not by
    /// being brighter or darker than its neighbours in one phase. Fat, gas, air and bone keep
    /// their values.
    init(phase: ContrastPhase, randomContrast: Bool = false, using rng: inout SeededGenerator) {
        let index = ContrastPhase.allCases.firstIndex(of: phase) ?? 0
        hu = Tissue.allCases.map { Float(rng.uniform($0.ranges[index])) }
        texture = Tissue.allCases.map { tissue in
            switch tissue {
            case .subcutaneousFat, .visceralFat: Float(rng.uniform(3...10))
            case .muscle: Float(rng.uniform(3...10))
            case .cancellousBone: Float(rng.uniform(20...70))
            case .corticalBone: Float(rng.uniform(40...150))
            case .liver, .pancreas, .kidneyCortex, .kidneyMedulla: Float(rng.uniform(2...8))
            case .spleen: Float(phase == .arterial ? rng.uniform(10...45) : rng.uniform(2...8))
            case .lung: Float(rng.uniform(15...50))
            case .stool: Float(rng.uniform(20...80))
            case .marrow: Float(rng.uniform(10...40))
            default: Float(rng.uniform(1...6))
            }
        }
        // The kidneys' collecting systems only fill with contrast in the excretory phase; the
        // medulla then matches the cortex (nephrographic), as Yuh & Cohan describe.
        if phase == .native { hu[Tissue.kidneyMedulla.rawValue] = hu[Tissue.kidneyCortex.rawValue] }
        if randomContrast {
            for t in Self.randomizable { hu[t.rawValue] = Float(rng.uniform(Self.randomContrastHU)) }
        }
    }

    subscript(_ t: Tissue) -> Float {
        get { hu[t.rawValue] }
        set { hu[t.rawValue] = newValue }
    }
    func textureOf(_ t: Tissue) -> Float { texture[t.rawValue] }
}
