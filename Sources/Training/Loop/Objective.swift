import Foundation

/// The training objective on one batch: deep-supervised Dice + cross-entropy against the labels,
/// and, with a teacher, the distillation terms of docs LCOVNET.md:
/// L = 0.8·L_seg + 0.2·Σ_s w_s (0.1·CAKD_s + 0.2·MSKD_s), w = (0.4, 0.2, 0.2, 0.2) full resolution first.
/// Without a teacher L = L_seg. L_seg = Σ_s w_s (Dice_s + CE_s), labels taken at every 2^s-th voxel.
struct Objective {
    static let scaleWeights = [0.4, 0.2, 0.2, 0.2]
    var segmentationWeight = 0.8
    var distillationWeight = 0.2
    var affinityWeight = 0.1
    var featureNormWeight = 0.2

    struct Terms: Codable {
        var total = 0.0, segmentation = 0.0, dice = 0.0, crossEntropy = 0.0, affinity = 0.0, featureNorm = 0.0
    }

    /// Losses of the batch and the gradients for the student's logits and features, per scale.
    /// - Parameter unlabelled: per sample, the classes its source leaves unlabelled (partial labels), or nil.
    func evaluate(
        student: TrainableLCOVNet.Output, teacher: TrainableLCOVNet.Output?, labels: [[UInt8]],
        unlabelled: [[Bool]?]? = nil, window: [Int],
        _ ctx: TrainingContext
    ) -> (Terms, logits: [Tensor?], features: [Tensor?]) {
        var terms = Terms()
        var gLogits: [Tensor?] = []
        var gFeatures: [Tensor?] = []
        let batch = labels.count
        let segWeight = teacher == nil ? 1 : segmentationWeight
        for s in 0..<TrainableLCOVNet.scales {
            let logits = student.logits[s]
            let classes = logits.channels
            let voxels = logits.voxels
            let g = Tensor(logits.shape, pool: ctx.pool, zeroed: true)
            let gf = teacher == nil ? nil : Tensor(student.features[s].shape, pool: ctx.pool, zeroed: true)
            let w = Self.scaleWeights[s] / Double(batch)
            for n in 0..<batch {
                let y = Self.downsample(labels[n], window: window, factor: 1 << s)
                let seg = FusedSegmentationLoss(
                    logits: logits.data + n * voxels * classes, labels: y, classCount: classes,
                    scale: Float(segWeight * w), gradient: g.data + n * voxels * classes,
                    unlabelled: unlabelled?[n])
                terms.dice += w * seg.dice
                terms.crossEntropy += w * seg.crossEntropy
                if let teacher {
                    let z = Self.classMajor(logits, sample: n)
                    let zt = Self.classMajor(teacher.logits[s], sample: n)
                    let cakd = classAffinityLoss(student: z, teacher: zt)
                    let f = student.features[s]
                    let ft = teacher.features[s]
                    precondition(
                        f.voxels == voxels && ft.voxels == voxels, "features and logits differ in size at scale \(s)")
                    let temperatures = FeatureNorms.perVoxel(
                        f.data + n * voxels * f.channels, channels: f.channels, voxels: voxels)
                    let teacherTemperatures = FeatureNorms.perVoxel(
                        ft.data + n * voxels * ft.channels, channels: ft.channels, voxels: voxels)
                    let (mskd, temperatureGradient) = featureNormDistillationLoss(
                        student: z, teacher: zt, studentTemperatures: temperatures,
                        teacherTemperatures: teacherTemperatures)
                    let kd = distillationWeight * w
                    terms.affinity += w * cakd.loss
                    terms.featureNorm += w * mskd.loss
                    var grad = [Float](repeating: 0, count: classes * voxels)
                    for i in grad.indices {
                        grad[i] = Float(
                            kd
                                * (affinityWeight * Double(cakd.gradient.values[i]) + featureNormWeight
                                    * Double(mskd.gradient.values[i])))
                    }
                    Self.add(grad, into: g, sample: n)
                    // τ_v = ‖f_v‖ is the temperature: dL/df_v = dL/dτ_v · f_v / τ_v.
                    FeatureNorms.backward(
                        f.data + n * voxels * f.channels, norms: temperatures, temperatureGradient: temperatureGradient,
                        scale: kd * featureNormWeight, channels: f.channels, into: gf!.data + n * voxels * f.channels)
                }
            }
            gLogits.append(g)
            gFeatures.append(gf)
        }
        terms.segmentation = terms.dice + terms.crossEntropy
        terms.total =
            teacher == nil
            ? terms.segmentation
            : segmentationWeight * terms.segmentation + distillationWeight
                * (affinityWeight * terms.affinity + featureNormWeight * terms.featureNorm)
        return (terms, gLogits, gFeatures)
    }

    /// Sample n of a channels-last logits tensor as class-major scores.
    static func classMajor(_ t: Tensor, sample n: Int) -> ClassScores {
        let c = t.channels
        let v = t.voxels
        var values = [Float](repeating: 0, count: c * v)
        let base = t.data + n * v * c
        for i in 0..<v { for k in 0..<c { values[k * v + i] = base[i * c + k] } }
        return ClassScores(classCount: c, voxelCount: v, values: values)
    }

    /// Adds class-major values into sample n of a channels-last tensor.
    static func add(_ values: [Float], into t: Tensor, sample n: Int) {
        let c = t.channels
        let v = t.voxels
        let base = t.data + n * v * c
        for i in 0..<v { for k in 0..<c { base[i * c + k] += values[k * v + i] } }
    }

    /// Labels at every factor-th voxel (PyTorch's nearest downsampling by an integer factor).
    static func downsample(_ labels: [UInt8], window: [Int], factor: Int) -> [UInt8] {
        guard factor > 1 else { return labels }
        let (d, h, w) = (window[0], window[1], window[2])
        var out: [UInt8] = []
        out.reserveCapacity(labels.count / (factor * factor * factor))
        for z in stride(from: 0, to: d, by: factor) {
            for y in stride(from: 0, to: h, by: factor) {
                for x in stride(from: 0, to: w, by: factor) { out.append(labels[(z * h + y) * w + x]) }
            }
        }
        return out
    }
}
