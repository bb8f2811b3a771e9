import Foundation
import Phantom

/// Which part of the trunk a synthesized scan covers (real abdominal CT comes in all three).
public enum FieldOfView: String, Sendable, Codable, CaseIterable {
    case upperAbdomen = "upper-abdomen"
    case pelvis
    case abdomenPelvis = "abdomen-pelvis"
}

/// What to synthesize. Every value left nil is drawn from the seed; setting one shifts the
/// population (a fixed slice spacing, say) and leaves every other draw as it was.
public struct SynthesisOptions: Sendable, Codable, Equatable {
    public var seed: UInt64
    public var phase: ContrastPhase?
    public var fieldOfView: FieldOfView?
    public var pixelSpacing: Double?
    public var sliceSpacing: Double?
    public var noiseSigma: Double?
    public var randomContrast: Bool?
    /// With `randomContrast` nil: the share of seeds drawn with randomized contrast (nil: 0.25,
    /// the shipped model's; the same random stream whatever the share).
    public var randomContrastShare: Double?
    /// "left", "right", both or none (an empty list).
    public var hipImplants: [String]?

    public init(
        seed: UInt64, phase: ContrastPhase? = nil, fieldOfView: FieldOfView? = nil, pixelSpacing: Double? = nil,
        sliceSpacing: Double? = nil, noiseSigma: Double? = nil, randomContrast: Bool? = nil,
        randomContrastShare: Double? = nil,
        hipImplants: [String]? = nil
    ) {
        self.seed = seed
        self.phase = phase
        self.fieldOfView = fieldOfView
        self.pixelSpacing = pixelSpacing
        self.sliceSpacing = sliceSpacing
        self.noiseSigma = noiseSigma
        self.randomContrast = randomContrast
        self.randomContrastShare = randomContrastShare
        self.hipImplants = hipImplants
    }
}

/// What one synthesized scan was drawn with: the record `lcovnet synthesize` writes next to
/// the images, so a sample can be understood (and reproduced from its seed and map).
public struct SynthesisParameters: Sendable, Codable, Equatable {
    public var seed: UInt64
    public var anatomy: String
    public var phase: ContrastPhase
    public var fieldOfView: FieldOfView
    /// Scanner grid: in-plane pixel spacing, distance between slices and the slice's thickness (mm).
    public var pixelSpacing: Double
    public var sliceSpacing: Double
    public var sliceThickness: Double
    /// In-plane point spread (Gaussian sigma, mm) of the reconstruction kernel.
    public var blurMM: Double
    /// Standard deviation of the image noise (HU) and its correlation length (Gaussian sigma, pixels).
    public var noiseSigma: Double
    public var noiseCorrelation: Double
    /// Anatomy deformation: per-axis scale, rotations about x, y, z (radians), shear, and the
    /// smooth elastic displacement (amplitude and feature size, mm).
    public var scale: [Double]
    public var rotation: [Double]
    public var shear: Double
    public var elasticAmplitudeMM: Double
    public var elasticWavelengthMM: Double
    /// Body build around the organs (mm).
    public var subcutaneousFatMM: Double
    public var visceralFatMM: Double
    public var abdominalWallMM: Double
    /// Content of the hollow organs, by name (gas, fluid, oral contrast, stool, collapsed).
    public var stomachContent: String
    public var smallBowelContent: String
    public var colonContent: String
    public var bladderContrast: Bool
    public var clutterBlobs: Int
    public var table: Bool
    public var streaks: Bool
    /// Fat round the kidneys and adrenals (perirenal and pararenal, mm): what sets them apart
    /// from the muscles behind them on real CT.
    public var perirenalFatMM: Double
    /// Soft tissues at random HU whatever the phase (a quarter of scans; `TissueValues`).
    public var randomContrast: Bool
    /// Total hip replacements: "left", "right" (none in most scans; `HipImplants`).
    public var hipImplants: [String]

    static func draw(_ o: SynthesisOptions, anatomy: String, using rng: inout SeededGenerator) -> SynthesisParameters {
        var p = draw(
            seed: o.seed, anatomy: anatomy, phase: o.phase, randomContrastShare: o.randomContrastShare ?? 0.25,
            using: &rng)
        if let v = o.fieldOfView { p.fieldOfView = v }
        if let v = o.pixelSpacing { p.pixelSpacing = v }
        if let v = o.sliceSpacing {
            p.sliceThickness *= v / p.sliceSpacing
            p.sliceSpacing = v
        }
        if let v = o.noiseSigma { p.noiseSigma = v }
        if let v = o.randomContrast { p.randomContrast = v }
        if let v = o.hipImplants { p.hipImplants = v }
        return p
    }

    private static func draw(
        seed: UInt64, anatomy: String, phase: ContrastPhase?, randomContrastShare: Double,
        using rng: inout SeededGenerator
    ) -> SynthesisParameters {
        let phase = phase ?? ContrastPhase.allCases[[0, 1, 2, 2, 2, 3][Int(rng.next() % 6)]]
        let fovDraw = rng.uniform(0...1)
        let fov: FieldOfView = fovDraw < 0.55 ? .abdomenPelvis : fovDraw < 0.8 ? .upperAbdomen : .pelvis
        let spacings = [0.625, 0.75, 0.8, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 3.0, 5.0, 5.0]
        let sliceSpacing = spacings[Int(rng.next() % UInt64(spacings.count))]
        let thickness = sliceSpacing * (rng.chance(0.6) ? 1 : rng.uniform(1...1.5))
        let global = rng.uniform(0.88...1.12)
        func content(_ choices: [(String, Double)]) -> String {
            var u = rng.uniform(0...1)
            for (name, p) in choices {
                if u < p { return name }
                u -= p
            }
            return choices.last!.0
        }
        return SynthesisParameters(
            seed: seed, anatomy: anatomy, phase: phase, fieldOfView: fov,
            pixelSpacing: rng.uniform(0.6...1.0), sliceSpacing: sliceSpacing, sliceThickness: thickness,
            blurMM: rng.uniform(0.3...0.9), noiseSigma: exp(rng.uniform(log(4.0)...log(30.0))),
            noiseCorrelation: rng.uniform(0.5...1.3),
            scale: (0..<3).map { _ in global * rng.uniform(0.93...1.07) },
            rotation: [rng.gaussian(sigma: 0.04), rng.gaussian(sigma: 0.04), rng.gaussian(sigma: 0.08)],
            shear: rng.gaussian(sigma: 0.03), elasticAmplitudeMM: rng.uniform(2...10),
            elasticWavelengthMM: rng.uniform(60...140),
            subcutaneousFatMM: rng.uniform(5...55), visceralFatMM: rng.uniform(2...30),
            abdominalWallMM: rng.uniform(7...16),
            stomachContent: content([("gas-fluid", 0.45), ("food", 0.25), ("oral-contrast", 0.15), ("collapsed", 0.15)]
            ),
            smallBowelContent: content([
                ("fluid", 0.35), ("collapsed", 0.3), ("oral-contrast", 0.25), ("gas-fluid", 0.1)
            ]),
            colonContent: content([("stool", 0.45), ("gas", 0.3), ("fluid", 0.1), ("oral-contrast", 0.15)]),
            bladderContrast: phase == .delayed && rng.chance(0.7), clutterBlobs: Int(rng.uniform(8...40)),
            table: rng.chance(0.7), streaks: rng.chance(0.5), perirenalFatMM: rng.uniform(3...25),
            randomContrast: rng.chance(randomContrastShare), hipImplants: drawHipImplants(using: &rng))
    }

    /// About one scan in ten: a population that has reached the age of hip replacements.
    private static func drawHipImplants(using rng: inout SeededGenerator) -> [String] {
        guard rng.chance(0.1) else { return [] }
        return rng.chance(0.35) ? ["left", "right"] : [rng.chance(0.5) ? "left" : "right"]
    }
}
