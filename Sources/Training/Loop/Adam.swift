import Foundation

/// Adam with decoupled weight decay (AdamW) and a schedule: linear warm-up, then cosine decay
/// to a tenth of the peak rate.
public struct AdamOptimizer: Sendable, Codable {
    public var learningRate: Double = 2e-3
    public var beta1: Double = 0.9
    public var beta2: Double = 0.999
    public var epsilon: Double = 1e-8
    public var weightDecay: Double = 1e-4
    public var warmup: Int = 50
    public var totalSteps: Int
    /// Steps taken so far (restored on resume).
    public var step: Int = 0

    public init(totalSteps: Int, learningRate: Double = 2e-3, weightDecay: Double = 1e-4, warmup: Int = 50) {
        self.totalSteps = totalSteps
        self.learningRate = learningRate
        self.weightDecay = weightDecay
        self.warmup = warmup
    }

    /// The learning rate of step `t` (0-based).
    public func rate(at t: Int) -> Double {
        if t < warmup { return learningRate * Double(t + 1) / Double(warmup) }
        let progress = min(1, Double(t - warmup) / Double(max(1, totalSteps - warmup)))
        return learningRate * (0.1 + 0.9 * 0.5 * (1 + cos(.pi * progress)))
    }

    /// One update of every parameter from its gradient; gradients are then zeroed.
    mutating func apply(_ parameters: [Parameter]) {
        let rate = self.rate(at: step)
        step += 1
        let c1 = 1 - pow(beta1, Double(step))
        let c2 = 1 - pow(beta2, Double(step))
        let b1 = Float(beta1)
        let b2 = Float(beta2)
        let eps = Float(epsilon)
        let stepSize = Float(rate / c1)
        let root = Float(1 / c2.squareRoot())
        for p in parameters {
            let decay = p.decays ? Float(rate * weightDecay) : 0
            let w = p.value
            let g = p.gradient
            let m = p.firstMoment
            let v = p.secondMoment
            for i in 0..<p.count {
                m[i] = b1 * m[i] + (1 - b1) * g[i]
                v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i]
                w[i] -= stepSize * m[i] / ((v[i]).squareRoot() * root + eps) + decay * w[i]
            }
            p.zeroGradient()
        }
    }
}
