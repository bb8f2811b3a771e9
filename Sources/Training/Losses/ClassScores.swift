/// Per-voxel scores of C classes over N voxels, class-major: `values[c * voxelCount + v]`
/// (the layout of one sample of an N×C×D×H×W tensor).
public struct ClassScores: Sendable, Equatable {
    public let classCount: Int
    public let voxelCount: Int
    public var values: [Float]

    public init(classCount: Int, voxelCount: Int, values: [Float]) {
        precondition(
            values.count == classCount * voxelCount, "need \(classCount) × \(voxelCount) scores, got \(values.count)")
        self.classCount = classCount
        self.voxelCount = voxelCount
        self.values = values
    }

    public init(zerosLike other: ClassScores) {
        self.init(
            classCount: other.classCount, voxelCount: other.voxelCount,
            values: [Float](repeating: 0, count: other.values.count))
    }

    /// Softmax over classes at every voxel of `values / temperature`.
    public func softmax(temperature: Double = 1) -> [Double] {
        softmax(temperatures: [Double](repeating: temperature, count: voxelCount))
    }

    /// Softmax over classes at every voxel v of `values / temperatures[v]`.
    public func softmax(temperatures: [Double]) -> [Double] {
        let c = classCount
        let n = voxelCount
        precondition(temperatures.count == n)
        var out = [Double](repeating: 0, count: c * n)
        for v in 0..<n {
            let t = temperatures[v]
            var peak = -Double.infinity
            for k in 0..<c { peak = max(peak, Double(values[k * n + v]) / t) }
            var total = 0.0
            for k in 0..<c {
                let e = exp(Double(values[k * n + v]) / t - peak)
                out[k * n + v] = e
                total += e
            }
            for k in 0..<c { out[k * n + v] /= total }
        }
        return out
    }
}

/// A loss value with its gradient with respect to the scores it was computed from.
public struct LossGradient: Sendable {
    public var loss: Double
    public var gradient: ClassScores
}

/// Backpropagates dL/dP through P = softmax(z / t) at every voxel: dL/dz = P ⊙ (dL/dP − Σ P dL/dP) / t.
func softmaxBackward(
    probabilities p: [Double], gradient g: [Double], classCount c: Int, voxelCount n: Int,
    temperature t: Double = 1
) -> [Float] {
    var out = [Float](repeating: 0, count: c * n)
    for v in 0..<n {
        var dot = 0.0
        for k in 0..<c { dot += p[k * n + v] * g[k * n + v] }
        for k in 0..<c { out[k * n + v] = Float(p[k * n + v] * (g[k * n + v] - dot) / t) }
    }
    return out
}

#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif
