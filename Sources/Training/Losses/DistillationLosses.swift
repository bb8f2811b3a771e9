/// Class-affinity distillation (CAKD): with P = softmax(z) as a C×N matrix and A = P Pᵀ,
/// L = 1 − mean_c cos(A_S[:, c], A_T[:, c]). Returns the gradient for the student's logits.
public func classAffinityLoss(student: ClassScores, teacher: ClassScores) -> LossGradient {
    let c = student.classCount, n = student.voxelCount
    precondition(teacher.classCount == c && teacher.voxelCount == n)
    let ps = student.softmax(), pt = teacher.softmax()
    let aS = affinity(ps, c, n), aT = affinity(pt, c, n)
    var loss = 1.0
    var gA = [Double](repeating: 0, count: c * c)   // dL/dA_S, row-major [row][column]
    for col in 0..<c {
        var dotST = 0.0, normS = 0.0, normT = 0.0
        for row in 0..<c {
            dotST += aS[row * c + col] * aT[row * c + col]
            normS += aS[row * c + col] * aS[row * c + col]
            normT += aT[row * c + col] * aT[row * c + col]
        }
        let ns = max(normS.squareRoot(), 1e-12), nt = max(normT.squareRoot(), 1e-12)
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
    return LossGradient(loss: loss, gradient: ClassScores(classCount: c, voxelCount: n,
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

/// Multi-scale distillation with feature-norm temperature (MSKD): q_T = softmax(z_T / ‖f_T‖),
/// q_S = softmax(z_S / ‖f_S‖), L = mean_v Σ_c −q_T log q_S. As in the reference code, ‖f‖ is
/// the L2 norm of the whole decoder feature tensor of the sample at that scale. The gradient
/// is returned for the student's logits and for its feature norm (dL/df = that × f / ‖f‖).
public func featureNormDistillationLoss(student: ClassScores, teacher: ClassScores,
                                        studentFeatureNorm: Double, teacherFeatureNorm: Double) -> (LossGradient, normGradient: Double) {
    let c = student.classCount, n = student.voxelCount
    precondition(teacher.classCount == c && teacher.voxelCount == n)
    let qT = teacher.softmax(temperature: teacherFeatureNorm), qS = student.softmax(temperature: studentFeatureNorm)
    var loss = 0.0, normGradient = 0.0
    var gradient = [Float](repeating: 0, count: c * n)
    let t = studentFeatureNorm
    for v in 0..<n {
        for k in 0..<c {
            loss -= qT[k * n + v] * log(max(qS[k * n + v], 1e-300))
            // dL/du = q_S − q_T with u = z / t.
            let du = (qS[k * n + v] - qT[k * n + v]) / Double(n)
            gradient[k * n + v] = Float(du / t)
            normGradient -= du * Double(student.values[k * n + v]) / (t * t)
        }
    }
    return (LossGradient(loss: loss / Double(n), gradient: ClassScores(classCount: c, voxelCount: n, values: gradient)), normGradient)
}

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
