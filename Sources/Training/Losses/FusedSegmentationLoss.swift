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
    init(logits: UnsafePointer<Float>, labels: [UInt8], classCount c: Int, scale: Float,
         gradient: UnsafeMutablePointer<Float>, epsilon: Double = 1e-5) {
        let n = labels.count
        // Probabilities go into the gradient buffer first and are overwritten in the second pass.
        let p = gradient
        var intersection = [Double](repeating: 0, count: c), predicted = [Double](repeating: 0, count: c),
            truth = [Double](repeating: 0, count: c)
        var predictedChunk = [Float](repeating: 0, count: c)
        var logLoss = 0.0
        labels.withUnsafeBufferPointer { y in
            for v in 0..<n {
                let z = logits + v * c, q = p + v * c
                var peak = -Float.infinity
                for k in 0..<c { peak = max(peak, z[k]) }
                var total: Float = 0
                for k in 0..<c { let e = expf(z[k] - peak); q[k] = e; total += e }
                let inverse = 1 / total
                for k in 0..<c { q[k] *= inverse; predictedChunk[k] += q[k] }
                let label = Int(y[v])
                truth[label] += 1
                intersection[label] += Double(q[label])
                logLoss -= Double(logf(max(q[label], 1e-30)))
                // Float partial sums stay exact enough over 4096 voxels; flush them into Double.
                if v & 4095 == 4095 || v == n - 1 {
                    for k in 0..<c { predicted[k] += Double(predictedChunk[k]); predictedChunk[k] = 0 }
                }
            }
        }
        var dIntersection = [Float](repeating: 0, count: c), dPredicted = [Float](repeating: 0, count: c)
        var loss = 1.0
        for k in 0..<c {
            let numerator = 2 * intersection[k] + epsilon, denominator = predicted[k] + truth[k] + epsilon
            loss -= numerator / denominator / Double(c)
            dIntersection[k] = Float(-2 / denominator / Double(c))
            dPredicted[k] = Float(numerator / (denominator * denominator) / Double(c))
        }
        dice = loss
        crossEntropy = logLoss / Double(n)
        let inverseCount = 1 / Float(n)
        labels.withUnsafeBufferPointer { y in
            for v in 0..<n {
                let q = p + v * c, label = Int(y[v])
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
}
