import Foundation
import Inference
import ModelSpec

/// Everything a training run depends on; written next to its checkpoints so a run can be resumed
/// and reproduced.
public struct TrainingConfiguration: Sendable, Codable {
    /// Window D×H×W (multiples of 16, at least 32).
    public var window: [Int] = [32, 96, 96]
    public var batch: Int = 2
    public var steps: Int = 1000
    public var learningRate: Double = 2e-3
    public var weightDecay: Double = 1e-4
    public var warmup: Int = 50
    public var seed: UInt64 = 1
    public var threads: Int = ProcessInfo.processInfo.activeProcessorCount
    /// Convolutions compute on bf16 operands with f32 accumulation (TrainingContext); nil (runs
    /// from before the option) and false mean fp32 throughout.
    public var bf16: Bool?
    /// Phantom seeds used for training (held-out evaluation seeds must not overlap).
    public var phantomSeeds: [UInt64] = Array(1...16)
    public var phantomMatrix: Int = 256
    /// Phantoms that replace those of the pool during the run (nil: the pool stays as it is).
    public var phantomRefresh: PhantomRefresh?
    /// A folder of WORD label maps: when set, every seed of the pool (and of evaluation) is a
    /// CT synthesized on those maps (Synthesis.CTSynthesizer) instead of a phantom.
    public var anatomies: String?
    /// With `anatomies`: the share of synthesized CTs whose soft tissues take random HU (SynthSeg's
    /// randomized contrast); nil: the synthesizer's 0.25.
    public var randomContrastShare: Double?
    /// With `anatomies`: every seed divisible by this is a phantom instead, so that a model
    /// trained on synthesized CT keeps the phantom population too; nil: none.
    public var phantomEvery: Int?
    /// A labelled CT dataset (Datasets.LabelledDataset's layouts): seeds that are neither
    /// phantoms nor synthesized stand for its training cases, seed n for case (n − 1) mod count
    /// in id order.
    public var dataset: String?
    /// The dataset's label values → organ names or ids, resolved when the run was set up (nil:
    /// dataset.json's names, else WORD's ids). Organs it leaves out are partial labels.
    public var datasetLabelMap: [String: String]?
    /// Share of the dataset's cases held out for validation by a hash of the case id (nil:
    /// LabelledDataset.defaultValidationFraction).
    public var validationFraction: Double?
    /// With both `dataset` and `anatomies`: every seed divisible by this is a CT synthesized on
    /// the anatomies instead of a dataset case (the mix of real and synthesized data).
    public var synthesizedEvery: Int?
    /// Probability of mirroring a dataset case's patch left to right (left and right organs
    /// swapped); nil: never.
    public var mirrorProbability: Double?
    /// Folder of the dataset's prepared cases, reused by every run with the same preparation.
    public var preparedCache: String?
    public var input: InputPreparation = .lcovnetDefault
    /// Network widths (the student: LCOV-Net's [32, 64, 128, 256, 256]).
    public var widths: [Int] = LCOVNetArchitecture.widths
    public var checkpointEvery: Int = 100
    /// A state dict to start from when the run folder has no checkpoint yet (fine-tuning: the
    /// weights and BatchNorm statistics are taken, the optimizer and schedule start afresh).
    public var initialWeights: String?
    /// Weights of the distillation terms inside 0.2·Σ_s w_s(a·CAKD_s + m·MSKD_s): LCOVNET.md's
    /// a = 0.1, m = 0.2; setting one to 0 leaves that loss out (the ablation).
    public var affinityWeight: Double = 0.1
    public var featureNormWeight: Double = 0.2
    /// Blur, noise, contrast and brightness drawn per window (IntensityAugmentation); nil (runs
    /// from before the option) and false leave the windows as prepared.
    public var intensityAugmentation: Bool?
    /// Windows over which BatchNorm's running statistics are averaged before each checkpoint
    /// (precise BatchNorm); nil or 0 keep PyTorch's momentum-0.1 statistics.
    public var statisticsWindows: Int?
    /// Checkpoints hold the exponential moving average of the weights with this decay per step
    /// (e.g. 0.999: about the last thousand steps); nil keeps the last step's weights.
    public var weightAverageDecay: Double?

    public init() {}

    /// What a training seed stands for.
    public enum SampleSource: String, Sendable {
        case phantom, synthesized, dataset

        /// The training log's event for a volume of this source (the first two predate datasets).
        public var eventName: String { self == .dataset ? "datasetCase" : rawValue }
    }

    public func source(ofSeed seed: UInt64) -> SampleSource {
        guard anatomies != nil || dataset != nil else { return .phantom }
        if let n = phantomEvery, n > 0, seed % UInt64(n) == 0 { return .phantom }
        guard dataset != nil else { return .synthesized }
        if anatomies != nil, let n = synthesizedEvery, n > 0, seed % UInt64(n) == 0 { return .synthesized }
        return .dataset
    }

    /// Whether training seed `seed` stands for a phantom.
    public func drawsPhantom(seed: UInt64) -> Bool { source(ofSeed: seed) == .phantom }

    /// What the run trained on, for a model's provenance notes.
    public var dataDescription: String {
        let phantoms = "phantoms \(phantomSeeds.first ?? 0)-\(phantomSeeds.last ?? 0)"
        let mix = phantomEvery.map { $0 > 0 ? ", every \($0)th seed a phantom (\(phantoms) and refreshed)" : "" } ?? ""
        if let dataset {
            let synthesized =
                anatomies.flatMap { a in
                    synthesizedEvery.map { ", every \($0)th seed CT synthesized on the WORD label maps in \(a)" }
                } ?? ""
            return "trained on the labelled CT of \(dataset) (its training split)\(synthesized)\(mix)"
        }
        guard let anatomies else { return "trained on \(phantoms)" }
        return "trained on CT synthesized on the WORD label maps in \(anatomies)\(mix)"
    }
}

extension InputPreparation {
    /// lcovnet's own models: LPS voxel order, 2×2×4 mm, HU clipped to [−200, 300] and scaled to
    /// [0, 1], cropped to the body. See Models/default/REPORT.md for the measurements behind it.
    public static let lcovnetDefault = InputPreparation(
        orientation: "LPS", resample: .spacing(SIMD3(2, 2, 4)), normalization: .clipScale(min: -200, max: 300),
        bodyCrop: BodyCrop(thresholdHU: -500, marginMM: 10))
}
