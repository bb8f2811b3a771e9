import Foundation

/// Dice + cross-entropy of one sample in one pass over channels-last logits (voxel-major, the
/// classes of a voxel contiguous), with the softmax computed once in Float. The same values as
/// `diceLoss` + `crossEntropyLoss` on class-major scores (LossTests compares them), without the
/// two Double softmaxes and the transposes, which took a quarter of a training step.
struct FusedSegmentationLoss {
    var dice = 0.0
    var crossEntropy = 0.0

    /// Computes both losses for `logits` (voxelCount × classCount) and writes
    /// `scale · (dDice/dz + dCE/dz)` into `gradient` (same layout).
    /// - Parameter unlabelled: per class, whether the sample's dataset leaves it unlabelled
    ///   (partial labels): its voxels may be labelled background, so the marginal losses apply.
    init(
        logits: UnsafePointer<Float>, labels: [UInt8], classCount c: Int, scale: Float,
        gradient: UnsafeMutablePointer<Float>, epsilon: Double = 1e-5, unlabelled: [Bool]? = nil
    ) {
        if let unlabelled, unlabelled.contains(true) {
            (dice, crossEntropy) = Self.marginal(
                logits: logits, labels: labels, classCount: c, scale: scale, gradient: gradient,
                epsilon: epsilon, unlabelled: unlabelled)
            return
        }
        let n = labels.count
        // Probabilities go into the gradient buffer first and are overwritten in the second pass.
        let p = gradient
        var intersection = [Double](repeating: 0, count: c)
        var predicted = [Double](repeating: 0, count: c)
        var truth = [Double](repeating: 0, count: c)
        var predictedChunk = [Float](repeating: 0, count: c)
        var logLoss = 0.0
        labels.withUnsafeBufferPointer { y in
            for v in 0..<n {
                let q = p + v * c
                Self.softmax(logits + v * c, into: q, count: c)
                for k in 0..<c { predictedChunk[k] += q[k] }
                let label = Int(y[v])
                truth[label] += 1
                intersection[label] += Double(q[label])
                logLoss -= Double(logf(max(q[label], 1e-30)))
                // Float partial sums stay exact enough over 4096 voxels; flush them into Double.
                if v & 4095 == 4095 || v == n - 1 {
                    for k in 0..<c {
                        predicted[k] += Double(predictedChunk[k])
                        predictedChunk[k] = 0
                    }
                }
            }
        }
        var dIntersection = [Float](repeating: 0, count: c)
        var dPredicted = [Float](repeating: 0, count: c)
        var loss = 1.0
        for k in 0..<c {
            let numerator = 2 * intersection[k] + epsilon
            let denominator = predicted[k] + truth[k] + epsilon
            loss -= numerator / denominator / Double(c)
            dIntersection[k] = Float(-2 / denominator / Double(c))
            dPredicted[k] = Float(numerator / (denominator * denominator) / Double(c))
        }
        dice = loss
        crossEntropy = logLoss / Double(n)
        let inverseCount = 1 / Float(n)
        labels.withUnsafeBufferPointer { y in
            for v in 0..<n {
                let q = p + v * c
                let label = Int(y[v])
                // Dice: dL/dp_k = dPredicted_k + [k = y]·dIntersection_k, then back through the softmax;
                // cross-entropy: (p_k − [k = y]) / n.
                let qLabel = q[label]
                var dot: Float = qLabel * dIntersection[label]
                for k in 0..<c { dot += q[k] * dPredicted[k] }
                for k in 0..<c { q[k] = scale * (q[k] * (dPredicted[k] - dot + inverseCount)) }
                q[label] += scale * (qLabel * dIntersection[label] - inverseCount)
            }
        }
    }

    /// One voxel's softmax, in Float, shifted by its largest logit.
    @inline(__always)
    private static func softmax(_ z: UnsafePointer<Float>, into q: UnsafeMutablePointer<Float>, count c: Int) {
        var peak = -Float.infinity
        for k in 0..<c { peak = max(peak, z[k]) }
        var total: Float = 0
        for k in 0..<c {
            let e = expf(z[k] - peak)
            q[k] = e
            total += e
        }
        let inverse = 1 / total
        for k in 0..<c { q[k] *= inverse }
    }

    /// The marginal Dice + cross-entropy for partial labels (Shi et al., Medical Image Analysis 68,
    /// 2021): the probabilities of the unlabelled classes are added to background's, so a voxel
    /// labelled background may be any of them without penalty, and Dice averages over the
    /// labelled classes (merged background included) only.
    private static func marginal(
        logits: UnsafePointer<Float>, labels: [UInt8], classCount c: Int, scale: Float,
        gradient: UnsafeMutablePointer<Float>, epsilon: Double, unlabelled: [Bool]
    ) -> (Double, Double) {
        let n = labels.count
        // Each class's merged class: background for the unlabelled ones, itself otherwise.
        let merged = (0..<c).map { unlabelled[$0] ? 0 : $0 }
        let kept = (0..<c).filter { merged[$0] == $0 }
        let p = gradient
        var intersection = [Double](repeating: 0, count: c)
        var predicted = [Double](repeating: 0, count: c)
        var truth = [Double](repeating: 0, count: c)
        var q = [Double](repeating: 0, count: c)
        var logLoss = 0.0
        for v in 0..<n {
            let pv = p + v * c
            Self.softmax(logits + v * c, into: pv, count: c)
            for k in 0..<c { q[k] = 0 }
            for k in 0..<c { q[merged[k]] += Double(pv[k]) }
            for m in kept { predicted[m] += q[m] }
            let y = merged[min(Int(labels[v]), c - 1)]
            truth[y] += 1
            intersection[y] += q[y]
            logLoss -= log(max(q[y], 1e-30))
        }
        let classes = Double(kept.count)
        var dIntersection = [Double](repeating: 0, count: c)
        var dPredicted = [Double](repeating: 0, count: c)
        var loss = 1.0
        for m in kept {
            let numerator = 2 * intersection[m] + epsilon
            let denominator = predicted[m] + truth[m] + epsilon
            loss -= numerator / denominator / classes
            dIntersection[m] = -2 / denominator / classes
            dPredicted[m] = numerator / (denominator * denominator) / classes
        }
        var g = [Double](repeating: 0, count: c)
        for v in 0..<n {
            let pv = p + v * c
            for k in 0..<c { q[k] = 0 }
            for k in 0..<c { q[merged[k]] += Double(pv[k]) }
            let y = merged[min(Int(labels[v]), c - 1)]
            // dL/dq_m of each merged class m, then through the merge (dq_m/dp_k = 1 for k in m)
            // and the softmax: dL/dz_k = p_k (g_m(k) − Σ_m q_m g_m).
            var dot = 0.0
            for m in kept {
                g[m] = dPredicted[m] + (m == y ? dIntersection[m] - 1 / (Double(n) * max(q[m], 1e-30)) : 0)
                dot += q[m] * g[m]
            }
            for k in 0..<c { pv[k] = scale * Float(Double(pv[k]) * (g[merged[k]] - dot)) }
        }
        return (loss, logLoss / Double(n))
    }
}
