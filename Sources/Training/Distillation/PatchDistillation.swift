import Foundation
import Inference

/// What distillation needs from a teacher on one window, so that it can be computed once and
/// cached: the logits at the four deep-supervision scales (full resolution first, each C×D×H×W
/// in C order at 1/2^s of the window) and, per voxel of each scale, the L2 norm over channels
/// of the decoder features (MSKD's temperatures; the loss never needs the features themselves).
public struct TeacherTargets: Sendable, Equatable {
    public var logits: [[Float]]
    /// Per scale, D×H×W at 1/2^s of the window.
    public var featureNorms: [[Float]]

    public init(logits: [[Float]], featureNorms: [[Float]]) {
        self.logits = logits
        self.featureNorms = featureNorms
    }

    /// Argmax of the full-resolution logits: the teacher's hard labels.
    public func argmax(classCount: Int) -> [UInt8] {
        let full = logits[0]
        let n = full.count / classCount
        var out = [UInt8](repeating: 0, count: n)
        for v in 0..<n {
            var best = 0
            for k in 1..<classCount where full[k * n + v] > full[best * n + v] { best = k }
            out[v] = UInt8(best)
        }
        return out
    }
}

/// One cached training window: the prepared input (D×H×W), the hard labels for the Dice term
/// (a person's correction, else the teacher's argmax) and the teacher's targets.
public struct DistillationSample: Sendable {
    public var image: [Float]
    public var labels: [UInt8]
    public var teacher: TeacherTargets?
    /// Classes the labels' source leaves unlabelled (a rehearsal dataset's partial labels), or nil.
    public var unlabelled: [Bool]?

    public init(image: [Float], labels: [UInt8], teacher: TeacherTargets?, unlabelled: [Bool]? = nil) {
        self.image = image
        self.labels = labels
        self.teacher = teacher
        self.unlabelled = unlabelled
    }
}

/// A network loaded from a state dict that can act as a teacher (targets on a window), be
/// evaluated (argmax), and be fine-tuned from cached samples with the objective of LCOVNET.md
/// (0.8·L_seg + 0.2·Σ_s w_s(0.1·CAKD_s + 0.2·MSKD_s)). This is the retraining loop's door into
/// the training engine; it adds no training logic of its own.
public final class PatchNetwork {
    let context: TrainingContext
    let network: TrainableLCOVNet
    var optimizer: AdamOptimizer?
    let objective = Objective()
    public var widths: [Int] { network.widths }
    public var classCount: Int { network.classCount }

    /// Loads a state dict (a training checkpoint, or a model directory's weights). Widths come
    /// from the file's metadata when it records them, else LCOV-Net's own.
    public init(stateDict: SafeTensors, source: String, threads: Int) throws {
        context = try TrainingContext(threads: threads)
        network = TrainableLCOVNet(widths: LCOVNetArchitecture.widths(of: stateDict), pool: context.pool)
        try network.load(stateDict, source: source)
    }

    /// Teacher targets on one D×H×W window (evaluation mode: running BatchNorm statistics).
    public func targets(image: [Float], window: [Int]) throws -> TeacherTargets {
        let out = try network.forward(
            Tensor(planar: image, shape: [1, 1] + window, pool: context.pool), context, training: false)
        let norms = out.features.map { f in
            FeatureNorms.perVoxel(f.data, channels: f.channels, voxels: f.voxels).map(Float.init)
        }
        return TeacherTargets(logits: out.logits.map(\.planar), featureNorms: norms)
    }

    /// Argmax labels of the full-resolution logits on one window.
    public func predict(image: [Float], window: [Int]) throws -> [UInt8] {
        let logits = try targets(image: image, window: window).logits
        return TeacherTargets(logits: logits, featureNorms: []).argmax(classCount: classCount)
    }

    public struct StepTerms: Sendable, Codable {
        public var step: Int
        public var loss: Double
        public var dice: Double
        public var crossEntropy: Double
        public var affinity: Double
        public var featureNorm: Double
        public var learningRate: Double
    }

    /// Starts an AdamW schedule of `steps` steps for `fineTune`. BatchNorm keeps the running
    /// statistics the model was trained with: a round's batches are one or two organ-centred
    /// patches, whose statistics are far from those of the whole-scan windows the model
    /// serves; letting them replace the running ones wrecked held-out Dice (0.715 → 0.593 on the
    /// shifted phantoms of docs/RETRAINING.md) while the patch validation improved.
    public func beginFineTuning(steps: Int, learningRate: Double, weightDecay: Double = 1e-4, warmup: Int) {
        optimizer = AdamOptimizer(
            totalSteps: steps, learningRate: learningRate, weightDecay: weightDecay, warmup: warmup)
        network.freezeBatchNormStatistics()
    }

    /// One optimisation step on a batch of samples of one window shape. Samples with teacher
    /// targets add the distillation terms (every sample of a batch must have them, or none).
    public func fineTune(_ batch: [DistillationSample], window: [Int]) throws -> StepTerms {
        guard var optimizer else { throw TrainingError("fineTune: call beginFineTuning first") }
        let voxels = window.reduce(1, *)
        var images: [Float] = []
        images.reserveCapacity(batch.count * voxels)
        for s in batch { images += s.image }
        let x = Tensor(planar: images, shape: [batch.count, 1] + window, pool: context.pool)
        let teacher = try teacherOutput(batch, window: window)
        let out = try network.forward(x, context, training: true)
        let (terms, gLogits, gFeatures) = objective.evaluate(
            student: out, teacher: teacher, labels: batch.map(\.labels), unlabelled: batch.map(\.unlabelled),
            window: window, context)
        guard terms.total.isFinite else {
            throw TrainingError("fine-tune step \(optimizer.step + 1): the loss is not finite (\(terms.total))")
        }
        try network.backward(logits: gLogits, features: gFeatures, context)
        let rate = optimizer.rate(at: optimizer.step)
        optimizer.apply(network.parameters)
        self.optimizer = optimizer
        return StepTerms(
            step: optimizer.step, loss: terms.total, dice: terms.dice, crossEntropy: terms.crossEntropy,
            affinity: terms.affinity, featureNorm: terms.featureNorm, learningRate: rate)
    }

    /// The cached targets as the network output the objective reads. The objective takes only
    /// the per-voxel norms of the teacher's features, so each scale's features are stood in for
    /// by a one-channel tensor of those norms (whose per-voxel norm is exactly that value).
    private func teacherOutput(_ batch: [DistillationSample], window: [Int]) throws -> TrainableLCOVNet.Output? {
        let targets = batch.compactMap(\.teacher)
        if targets.isEmpty { return nil }
        guard targets.count == batch.count else {
            throw TrainingError("fineTune: a batch mixes samples with and without teacher targets")
        }
        var logits: [Tensor] = []
        var features: [Tensor] = []
        for s in 0..<TrainableLCOVNet.scales {
            let shape = [batch.count, classCount] + window.map { $0 >> s }
            let values = targets.flatMap { $0.logits[s] }
            guard values.count == shape.reduce(1, *) else {
                throw TrainingError("fineTune: teacher logits at scale \(s) do not match the window \(window)")
            }
            logits.append(Tensor(planar: values, shape: shape, pool: context.pool))
            let norms = targets.flatMap { $0.featureNorms[s] }
            guard norms.count == shape.reduce(1, *) / classCount else {
                throw TrainingError("fineTune: teacher feature norms at scale \(s) do not match the window \(window)")
            }
            features.append(Tensor(planar: norms, shape: [batch.count, 1] + window.map { $0 >> s }, pool: context.pool))
        }
        return TrainableLCOVNet.Output(logits: logits, features: features)
    }

    /// The network's state dict (parameters and running statistics under the reference keys).
    public func stateDict() -> SafeTensors { network.stateDict() }
}
