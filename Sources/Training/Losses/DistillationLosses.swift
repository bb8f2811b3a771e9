import Foundation

/// Class-affinity distillation (CAKD): with P = softmax(z) as a C×N matrix and A = P Pᵀ,
/// L = 1 − mean_c cos(A_S[:, c], A_T[:, c]). Returns the gradient for the student's logits.
public func classAffinityLoss(student: ClassScores, teacher: ClassScores) -> LossGradient {
    let c = student.classCount
    let n = student.voxelCount
    precondition(teacher.classCount == c && teacher.voxelCount == n)
    let ps = student.softmax()
    let pt = teacher.softmax()
    let aS = affinity(ps, c, n)
    let aT = affinity(pt, c, n)
    var loss = 1.0
    var gA = [Double](repeating: 0, count: c * c)  // dL/dA_S, row-major [row][column]
    for col in 0..<c {
        var dotST = 0.0
        var normS = 0.0
        var normT = 0.0
        for row in 0..<c {
            dotST += aS[row * c + col] * aT[row * c + col]
            normS += aS[row * c + col] * aS[row * c + col]
            normT += aT[row * c + col] * aT[row * c + col]
        }
        let ns = max(normS.squareRoot(), 1e-12)
        let nt = max(normT.squareRoot(), 1e-12)
        let cosine = dotST / (ns * nt)
        loss -= cosine / Double(c)
        for row in 0..<c {
            // d cos / d a = b / (|a||b|) − cos · a / |a|².
            gA[row * c + col] = -(aT[row * c + col] / (ns * nt) - cosine * aS[row * c + col] / (ns * ns)) / Double(c)
        }
    }
    // A = P Pᵀ ⇒ dL/dP = (G + Gᵀ) P.
    var dP = [Double](repeating: 0, count: c * n)
    for row in 0..<c {
        for k in 0..<c {
            let g = gA[row * c + k] + gA[k * c + row]
            if g == 0 { continue }
            for v in 0..<n { dP[row * n + v] += g * ps[k * n + v] }
        }
    }
    return LossGradient(
        loss: loss,
        gradient: ClassScores(
            classCount: c, voxelCount: n,
            values: softmaxBackward(probabilities: ps, gradient: dP, classCount: c, voxelCount: n)))
}

private func affinity(_ p: [Double], _ c: Int, _ n: Int) -> [Double] {
    var a = [Double](repeating: 0, count: c * c)
    for r in 0..<c {
        for k in r..<c {
            var sum = 0.0
            for v in 0..<n { sum += p[r * n + v] * p[k * n + v] }
            a[r * c + k] = sum
            a[k * c + r] = sum
        }
    }
    return a
}

/// Multi-scale distillation with feature-norm temperature (MSKD): at each voxel v,
/// q_T = softmax(z_T,v / τ_T,v) and q_S = softmax(z_S,v / τ_S,v) with τ_v = ‖f_v‖₂, the L2 norm
/// over channels of the decoder features at that voxel; L = mean_v Σ_c −q_T log q_S.
///
/// A per-voxel temperature, not the norm of the whole feature tensor (what the reference code
/// takes): that norm grows with the window (hundreds here), which flattens both distributions to
/// uniform, pins the loss at ln C and leaves no gradient. Returns the gradient for the student's
/// logits and dL/dτ_S per voxel (`FeatureNorms.backward` carries it to the features).
public func featureNormDistillationLoss(
    student: ClassScores, teacher: ClassScores,
    studentTemperatures ts: [Double], teacherTemperatures tt: [Double]
) -> (LossGradient, temperatureGradient: [Double]) {
    let c = student.classCount
    let n = student.voxelCount
    precondition(teacher.classCount == c && teacher.voxelCount == n && ts.count == n && tt.count == n)
    let qT = teacher.softmax(temperatures: tt)
    let qS = student.softmax(temperatures: ts)
    var loss = 0.0
    var temperatureGradient = [Double](repeating: 0, count: n)
    var gradient = [Float](repeating: 0, count: c * n)
    for v in 0..<n {
        let t = ts[v]
        var dt = 0.0
        for k in 0..<c {
            loss -= qT[k * n + v] * log(max(qS[k * n + v], 1e-300))
            // dL/du = q_S − q_T with u = z / t.
            let du = (qS[k * n + v] - qT[k * n + v]) / Double(n)
            gradient[k * n + v] = Float(du / t)
            dt -= du * Double(student.values[k * n + v]) / (t * t)
        }
        temperatureGradient[v] = dt
    }
    return (
        LossGradient(loss: loss / Double(n), gradient: ClassScores(classCount: c, voxelCount: n, values: gradient)),
        temperatureGradient
    )
}

/// Per-voxel L2 norms of channels-last features (MSKD's temperatures) and their backward pass.
public enum FeatureNorms {
    /// Below this a voxel's norm is held (its features get no gradient): an all-zero feature
    /// vector after ReLU6 would otherwise make the temperature 0.
    public static let floor = 1e-3

    /// ‖f_v‖₂ over the channels of each voxel of `voxels` voxels × `channels` channels (channels fastest).
    public static func perVoxel(_ f: UnsafePointer<Float>, channels: Int, voxels: Int) -> [Double] {
        (0..<voxels).map { v in
            var sum = 0.0
            for k in 0..<channels {
                let x = Double(f[v * channels + k])
                sum += x * x
            }
            return max(sum.squareRoot(), floor)
        }
    }

    /// dL/df = dL/dτ_v · f / τ_v, scaled by `scale`, written into `gradient` (same layout as f).
    public static func backward(
        _ f: UnsafePointer<Float>, norms: [Double], temperatureGradient: [Double], scale: Double,
        channels: Int, into gradient: UnsafeMutablePointer<Float>
    ) {
        for v in 0..<norms.count {
            let held = norms[v] <= floor
            let g = held ? 0 : scale * temperatureGradient[v] / norms[v]
            for k in 0..<channels { gradient[v * channels + k] = Float(g * Double(f[v * channels + k])) }
        }
    }
}
