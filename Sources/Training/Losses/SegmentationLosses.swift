/// Soft Dice loss over all classes (background included, as PyMIC's DiceLoss):
/// L = 1 − mean_c (2 Σ_v p_cv g_cv + ε) / (Σ_v p_cv + Σ_v g_cv + ε), p = softmax(z), g one-hot.
public func diceLoss(_ logits: ClassScores, labels: [UInt8], epsilon: Double = 1e-5) -> LossGradient {
    let c = logits.classCount
    let n = logits.voxelCount
    precondition(labels.count == n)
    let p = logits.softmax()
    var intersection = [Double](repeating: 0, count: c)
    var predicted = [Double](repeating: 0, count: c)
    var truth = [Double](repeating: 0, count: c)
    for v in 0..<n {
        truth[Int(labels[v])] += 1
        intersection[Int(labels[v])] += p[Int(labels[v]) * n + v]
        for k in 0..<c { predicted[k] += p[k * n + v] }
    }
    var loss = 1.0
    var dIntersection = [Double](repeating: 0, count: c)
    var dPredicted = [Double](repeating: 0, count: c)
    for k in 0..<c {
        let numerator = 2 * intersection[k] + epsilon
        let denominator = predicted[k] + truth[k] + epsilon
        loss -= numerator / denominator / Double(c)
        dIntersection[k] = -2 / denominator / Double(c)
        dPredicted[k] = numerator / (denominator * denominator) / Double(c)
    }
    var dP = [Double](repeating: 0, count: c * n)
    for v in 0..<n {
        for k in 0..<c { dP[k * n + v] = dPredicted[k] + (Int(labels[v]) == k ? dIntersection[k] : 0) }
    }
    return LossGradient(
        loss: loss,
        gradient: ClassScores(
            classCount: c, voxelCount: n,
            values: softmaxBackward(probabilities: p, gradient: dP, classCount: c, voxelCount: n)))
}

/// Cross-entropy averaged over voxels: L = −mean_v log softmax(z)_{y_v}.
public func crossEntropyLoss(_ logits: ClassScores, labels: [UInt8]) -> LossGradient {
    let c = logits.classCount
    let n = logits.voxelCount
    precondition(labels.count == n)
    let p = logits.softmax()
    var loss = 0.0
    var gradient = [Float](repeating: 0, count: c * n)
    for v in 0..<n {
        let y = Int(labels[v])
        loss -= log(max(p[y * n + v], 1e-300))
        for k in 0..<c { gradient[k * n + v] = Float((p[k * n + v] - (k == y ? 1 : 0)) / Double(n)) }
    }
    return LossGradient(loss: loss / Double(n), gradient: ClassScores(classCount: c, voxelCount: n, values: gradient))
}

#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif
