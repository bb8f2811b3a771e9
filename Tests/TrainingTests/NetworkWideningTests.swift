import Foundation
import Inference
import TestSupport
import Testing

@testable import Training

/// A teacher widened from a student (Net2WiderNet) computes what the student computes.
@Suite struct NetworkWideningTests {
    /// A small student with random weights, BatchNorm affines and running statistics (identity
    /// BatchNorm would hide a wrong channel mapping).
    static func student(_ ctx: TrainingContext) -> TrainableLCOVNet {
        let net = TrainableLCOVNet(widths: [4, 8, 8, 16, 16], pool: ctx.pool)
        net.initialize(seed: 5)
        var rng = SplitMix(seed: 6)
        for unit in net.units {
            guard let bn = unit.batchNorm else { continue }
            bn.scale.values = bn.scale.values.map { _ in Float(0.5 + rng.uniform()) }
            bn.shift.values = bn.shift.values.map { _ in Float(rng.gaussian() * 0.5 + 1) }
            bn.running.mean = bn.running.mean.map { _ in Float(rng.gaussian() * 0.2) }
            bn.running.variance = bn.running.variance.map { _ in Float(0.5 + rng.uniform()) }
        }
        for head in net.heads { head.bias.values = head.bias.values.map { _ in Float(rng.gaussian()) } }
        return net
    }

    static func input(_ ctx: TrainingContext, seed: UInt64) -> Tensor {
        var rng = SplitMix(seed: seed)
        let shape = [2, 1, 32, 32, 32]
        return Tensor(planar: (0..<shape.reduce(1, *)).map { _ in Float(rng.gaussian()) }, shape: shape, pool: ctx.pool)
    }

    static func relativeError(_ a: [Float], _ b: [Float]) -> Double {
        var diff = 0.0
        var norm = 0.0
        for (x, y) in zip(a, b) {
            diff += Double(x - y) * Double(x - y)
            norm += Double(y) * Double(y)
        }
        return (diff / norm).squareRoot()
    }

    @Test(arguments: [false, true])
    func aWidenedNetworkComputesTheSameLogits(training: Bool) throws {
        let ctx = try TrainingContext(threads: 2)
        let small = Self.student(ctx)
        let wide = TrainableLCOVNet(widths: [6, 13, 16, 24, 20], pool: ctx.pool)
        try wide.widen(from: small, seed: 9, noise: 0)
        let x = Self.input(ctx, seed: 1)
        let a = try small.forward(x, ctx, training: training)
        let b = try wide.forward(x, ctx, training: training)
        for s in 0..<TrainableLCOVNet.scales {
            let e = Self.relativeError(b.logits[s].planar, a.logits[s].planar)
            #expect(e < 1e-5, "scale \(s): relative error \(e)")
        }
    }

    @Test func noiseSetsTheCopiesApartAndLoadingWidensByMetadata() throws {
        let ctx = try TrainingContext(threads: 2)
        let small = Self.student(ctx)
        let wide = TrainableLCOVNet(widths: [8, 16, 16, 32, 32], pool: ctx.pool)
        _ = try wide.loadInitial(small.stateDict(), source: "student", seed: 9)
        let x = Self.input(ctx, seed: 2)
        let e = Self.relativeError(
            try wide.forward(x, ctx, training: false).logits[0].planar,
            try small.forward(x, ctx, training: false).logits[0].planar)
        #expect(e > 0 && e < 0.05, "1 % weight noise moved the logits by \(e)")
        // Each extra channel of conv1 copies one of the first four, but not exactly.
        let w = wide.encoders[0].conv1.conv.weight.values
        let perChannel = w.count / 8
        for o in 4..<8 {
            let row = Array(w[o * perChannel..<(o + 1) * perChannel])
            let nearest = (0..<4).map { Self.relativeError(row, Array(w[$0 * perChannel..<($0 + 1) * perChannel])) }
                .min()!
            #expect(nearest > 0 && nearest < 0.05)
        }
        #expect(throws: TrainingError.self) { try small.widen(from: wide, seed: 1) }
    }

    /// A teacher exports as a model the Inference engine runs (its widths read off the weights).
    @Test func theEngineRunsAWiderNetwork() throws {
        let ctx = try TrainingContext(threads: 2)
        let wide = TrainableLCOVNet(widths: [8, 16, 16, 32, 32], pool: ctx.pool)
        try wide.widen(from: Self.student(ctx), seed: 3)
        let dir = try TemporaryDirectory("lcovnet-wide-model")
        var c = TrainerTests.configuration()
        c.widths = wide.widths
        try Trainer.exportModel(
            stateDict: wide.stateDict(), configuration: c, source: "wide", to: dir.file("model"), version: "wide",
            notes: [])
        let model = try ModelDirectory(path: dir.file("model"))
        #expect(LCOVNetArchitecture.widths(of: model.weights) == wide.widths)
        let engine = try LCOVNetEngine(model: model, threads: 2, window: try WindowShape(d: 32, h: 32, w: 32))
        let x = Self.input(ctx, seed: 4).planar[0..<(32 * 32 * 32)].map { $0 }
        var logits = [Float](repeating: 0, count: 17 * 32 * 32 * 32)
        try x.withUnsafeBufferPointer { input in
            try logits.withUnsafeMutableBufferPointer { try engine.predict(window: input, into: $0) }
        }
        let ours = try wide.forward(Tensor(planar: x, shape: [1, 1, 32, 32, 32], pool: ctx.pool), ctx, training: false)
            .logits[0].planar
        let e = Self.relativeError(logits, ours)
        #expect(e < 1e-4, "engine vs training network: relative error \(e)")
    }
}
