import Foundation
import Inference
import Testing

@testable import Training

/// Each operation's backward pass against central finite differences of L(x) = ⟨op(x), R⟩ along
/// a random direction v: ⟨∂L/∂x, v⟩ ≈ (L(x + εv) − L(x − εv)) / 2ε, and the same for weights.
@Suite struct OperationGradientTests {
    let ctx: TrainingContext
    init() throws { ctx = try TrainingContext(threads: 2) }

    static func noise(_ count: Int, seed: UInt64, scale: Float = 1) -> [Float] {
        var rng = SplitMix(seed: seed)
        return (0..<count).map { _ in Float(rng.gaussian()) * scale }
    }

    static func dot(_ a: [Float], _ b: [Float]) -> Double { zip(a, b).reduce(0) { $0 + Double($1.0) * Double($1.1) } }

    func check(
        _ name: String, shape: [Int], epsilon: Float = 1e-2, tolerance: Double = 1e-3, seed: UInt64 = 1,
        forward: (Tensor) throws -> Tensor, backward: (Tensor) throws -> Tensor
    ) throws {
        try Self.check(
            ctx, name, shape: shape, epsilon: epsilon, tolerance: tolerance, seed: seed, forward: forward,
            backward: backward)
    }

    /// Relative gap between the analytic and the numeric directional derivative.
    static func check(
        _ ctx: TrainingContext, _ name: String, shape: [Int], epsilon: Float = 1e-2, tolerance: Double = 1e-3,
        seed: UInt64 = 1,
        forward: (Tensor) throws -> Tensor, backward: (Tensor) throws -> Tensor
    ) throws {
        let x = Self.noise(shape.reduce(1, *), seed: seed)
        let v = Self.noise(x.count, seed: seed + 100)
        let y = try forward(Tensor(planar: x, shape: shape, pool: ctx.pool))
        let r = Self.noise(y.count, seed: seed + 200)
        let gradient = try backward(Tensor(planar: r, shape: y.shape, pool: ctx.pool)).planar
        let analytic = Self.dot(gradient, v)
        func loss(_ sign: Float) throws -> Double {
            let shifted = zip(x, v).map { $0 + sign * epsilon * $1 }
            return Self.dot(try forward(Tensor(planar: shifted, shape: shape, pool: ctx.pool)).planar, r)
        }
        let numeric = (try loss(1) - loss(-1)) / (2 * Double(epsilon))
        let error = abs(analytic - numeric) / max(abs(numeric), 1e-12)
        print("finite differences: \(name) relative error \(error)")
        #expect(error < tolerance, "\(name): analytic \(analytic), numeric \(numeric), relative error \(error)")
    }

    @Test func convolutionInputAndWeights() throws {
        for (kernel, groups, cin, cout) in [
            ([1, 1, 3], 1, 4, 6), ([3, 3, 1], 1, 6, 5), ([3, 3, 1], 8, 8, 8), ([1, 1, 1], 1, 7, 3)
        ] {
            var layer = LCOVNetArchitecture.head("c", cin)
            layer.outChannels = cout
            layer.kernel = kernel
            layer.groups = groups
            let conv = Convolution(layer)
            var rng = SplitMix(seed: 5)
            conv.initialize(&rng)
            conv.bias.values = Self.noise(cout, seed: 9)
            try check(
                "conv \(kernel) g\(groups) input", shape: [2, cin, 4, 6, 8],
                forward: { try conv.forward($0, ctx, training: true) }, backward: { try conv.backward($0, ctx)! })
            // Weights: the same check with the weights as the variable.
            let x = Tensor(planar: Self.noise(2 * cin * 4 * 6 * 8, seed: 3), shape: [2, cin, 4, 6, 8], pool: ctx.pool)
            let w0 = conv.weight.values
            let dw = Self.noise(w0.count, seed: 4)
            let y = try conv.forward(x, ctx, training: true)
            let r = Self.noise(y.count, seed: 6)
            conv.weight.zeroGradient()
            conv.bias.zeroGradient()
            _ = try conv.backward(Tensor(planar: r, shape: y.shape, pool: ctx.pool), ctx)
            let analytic = Self.dot(conv.weight.gradients, dw)
            let biasAnalytic = conv.bias.gradients.reduce(0) { $0 + Double($1) }
            func loss(_ s: Float, bias: Float = 0) throws -> Double {
                conv.weight.values = zip(w0, dw).map { $0 + s * 1e-2 * $1 }
                let b0 = conv.bias.values
                conv.bias.values = b0.map { $0 + bias }
                defer { conv.bias.values = b0 }
                return Self.dot(try conv.forward(x, ctx, training: false).planar, r)
            }
            let numeric = (try loss(1) - loss(-1)) / 2e-2
            conv.weight.values = w0
            let biasNumeric = (try loss(0, bias: 1e-2) - loss(0, bias: -1e-2)) / 2e-2
            #expect(
                abs(analytic - numeric) / abs(numeric) < 1e-3,
                "conv \(kernel) g\(groups) weights: \(analytic) vs \(numeric)")
            #expect(
                abs(biasAnalytic - biasNumeric) / abs(biasNumeric) < 1e-3,
                "conv \(kernel) g\(groups) bias: \(biasAnalytic) vs \(biasNumeric)")
        }
    }

    @Test func batchNormInTrainingMode() throws {
        let bn = BatchNorm(key: "bn", channels: 5)
        bn.scale.values = [0.5, 1, 1.5, 2, 0.8]
        bn.shift.values = [0, 0.1, -0.2, 0.3, 1]
        try check(
            "batchnorm", shape: [2, 5, 4, 4, 6], epsilon: 1e-2, tolerance: 2e-3,
            forward: { try bn.forward($0, ctx, training: true) }, backward: { try bn.backward($0, ctx) })
        // 32 channels: oneDNN's vectorised channels-last kernels work in blocks of 16.
        let wide = BatchNorm(key: "bn", channels: 32)
        wide.scale.values = Self.noise(32, seed: 8).map { 1 + 0.3 * $0 }
        try check(
            "batchnorm, 32 channels", shape: [2, 32, 4, 4, 6], epsilon: 1e-2, tolerance: 2e-3,
            forward: { try wide.forward($0, ctx, training: true) }, backward: { try wide.backward($0, ctx) })
    }

    /// Fine-tuning: normalised with the running statistics, which stay as they were.
    @Test func batchNormWithFrozenStatistics() throws {
        let bn = BatchNorm(key: "bn", channels: 32)
        bn.scale.values = Self.noise(32, seed: 8).map { 1 + 0.3 * $0 }
        bn.shift.values = Self.noise(32, seed: 9).map { 0.2 * $0 }
        bn.running.mean = Self.noise(32, seed: 10).map { 0.3 * $0 }
        bn.running.variance = Self.noise(32, seed: 11).map { 0.5 + abs($0) }
        let (mean, variance) = (bn.running.mean, bn.running.variance)
        bn.statisticsFrozen = true
        try check(
            "batchnorm, frozen statistics", shape: [2, 32, 4, 4, 6], epsilon: 1e-2, tolerance: 1e-3,
            forward: { try bn.forward($0, ctx, training: true) }, backward: { try bn.backward($0, ctx) })
        #expect(bn.running.mean == mean && bn.running.variance == variance)
        // The same values as evaluation mode.
        let x = Tensor(planar: Self.noise(2 * 32 * 96, seed: 12), shape: [2, 32, 4, 4, 6], pool: ctx.pool)
        #expect(try bn.forward(x, ctx, training: true).planar == bn.forward(x, ctx, training: false).planar)
    }

    /// Precise statistics: after beginAveraging, n batches leave the plain average of their
    /// means (not the momentum average, which weights the last batch 0.1 and the first 0.081).
    @Test func batchNormAveragesItsStatistics() throws {
        let bn = BatchNorm(key: "bn", channels: 4)
        bn.running.mean = [9, 9, 9, 9]
        let shape = [1, 4, 2, 4, 4]
        var means: [[Float]] = []
        bn.beginAveraging()
        for seed in 20..<23 as Range<UInt64> {
            let x = Self.noise(128, seed: seed, scale: 2).enumerated().map { $0.element + Float(seed - 20) * 3 }
            means.append((0..<4).map { c in x[(c * 32)..<(c * 32 + 32)].reduce(0, +) / 32 })
            _ = try bn.forward(Tensor(planar: x, shape: shape, pool: ctx.pool), ctx, training: true)
        }
        for c in 0..<4 {
            let expected = (means[0][c] + means[1][c] + means[2][c]) / 3
            #expect(abs(bn.running.mean[c] - expected) < 1e-4, "channel \(c): \(bn.running.mean[c]) vs \(expected)")
        }
    }

    @Test func poolingAndUpsampling() throws {
        let maxPool = Pooling.maxDown(ctx.pool)
        let avgPool = Pooling.attentionAverage(ctx.pool)
        try check(
            "max pool", shape: [2, 3, 4, 6, 8], epsilon: 1e-3,
            forward: { try maxPool.forward($0, ctx, training: true) }, backward: { try maxPool.backward($0, ctx) })
        try check(
            "avg pool (padding counted)", shape: [2, 32, 4, 6, 8],
            forward: { try avgPool.forward($0, ctx, training: true) }, backward: { try avgPool.backward($0, ctx) })
        try check(
            "trilinear ×2", shape: [2, 3, 2, 3, 4],
            forward: { try Upsampling.forward($0, ctx) }, backward: { try Upsampling.backward($0, ctx) })
        try check(
            "trilinear ×2, 32 channels", shape: [2, 32, 4, 4, 4],
            forward: { try Upsampling.forward($0, ctx) }, backward: { try Upsampling.backward($0, ctx) })
    }

    @Test func elementwiseOperations() throws {
        var saved: Tensor?
        try check(
            "relu6", shape: [1, 3, 4, 4, 4], epsilon: 1e-3,
            forward: {
                saved = $0
                return Elementwise.relu6($0.scaled(3, ctx), ctx)
            },
            backward: { Elementwise.relu6Backward($0, input: saved!.scaled(3, ctx), ctx).scaled(3, ctx) })
        try check(
            "sigmoid gate", shape: [1, 3, 4, 4, 4],
            forward: {
                saved = $0
                let s = Elementwise.sigmoid($0, ctx)
                return Elementwise.gate(s, s, s, ctx)
            },
            backward: { g in
                let s = Elementwise.sigmoid(saved!, ctx)
                // out = s + s ⊙ s: through x1, the gate and x.
                let (da, dx) = Elementwise.gateBackward(g, sigmoid: s, x: s, ctx)
                let total = Tensor(g.shape, pool: ctx.pool)
                for i in 0..<g.count {
                    total.data[i] = da.data[i] + (g.data[i] + dx.data[i]) * s.data[i] * (1 - s.data[i])
                }
                return total
            })
        try check(
            "concat/split", shape: [2, 3, 2, 2, 2],
            forward: { Elementwise.concat($0, $0.scaled(2, ctx), ctx) },
            backward: { g in
                let (a, b) = Elementwise.split(g, first: 3, ctx)
                Elementwise.accumulate(a, b.scaled(2, ctx), ctx)
                return a
            })
    }
}

extension Tensor {
    func scaled(_ factor: Float, _ ctx: TrainingContext) -> Tensor {
        let out = Tensor(shape, pool: ctx.pool)
        for i in 0..<count { out.data[i] = data[i] * factor }
        return out
    }
}
