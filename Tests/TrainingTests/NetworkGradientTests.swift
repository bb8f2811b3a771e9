import Foundation
import Inference
import TestSupport
import Testing

@testable import Training

/// The whole network's training-mode forward and backward against PyTorch autograd in float64
/// (tools/lcovnet_training_reference.py) on a batch of two 32×32×32 windows: every parameter's
/// gradient, the updated BatchNorm statistics, and the deep-supervision outputs.
@Suite struct NetworkGradientTests {
    static let hasTorch = ReferenceTools.hasPythonModules("torch", "numpy")

    static func toolPath(_ name: String) -> String {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.appendingPathComponent("tools/\(name)").path
    }

    static func runTool(_ name: String, _ arguments: [String]) throws {
        let r = try ReferenceTools.run(ReferenceTools.python, [toolPath(name)] + arguments)
        guard r.status == 0 else { throw TrainingError("\(name) failed: \(r.stderr)") }
    }

    static func noise(_ count: Int, seed: UInt64, scale: Float = 1) -> [Float] {
        var rng = SplitMix(seed: seed)
        return (0..<count).map { _ in Float(rng.gaussian()) * scale }
    }

    static func norm(_ a: [Float]) -> Double { a.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot() }

    /// ‖a − b‖ / ‖b‖
    static func relativeError(_ a: [Float], _ b: [Float]) -> Double {
        var diff = 0.0
        var norm = 0.0
        for (x, y) in zip(a, b) {
            diff += Double(x - y) * Double(x - y)
            norm += Double(y) * Double(y)
        }
        return (diff / max(norm, 1e-300)).squareRoot()
    }

    @Test(.enabled(if: hasTorch, "needs Debian's python3 with torch (tools/lcovnet_training_reference.py)"))
    func backwardMatchesPyTorchAutograd() throws {
        let dir = try TemporaryDirectory("lcovnet-grad")
        let weights = dir.file("weights.safetensors")
        try Self.runTool("lcovnet_reference.py", ["random", "--seed", "3", "-o", weights])
        let batch = 2
        let side = 32
        let inputShape = [batch, 1, side, side, side]
        let input = Self.noise(inputShape.reduce(1, *), seed: 1)
        try input.withUnsafeBufferPointer { try NPYFile.write(dir.file("x.npy"), shape: inputShape, values: $0) }

        let ctx = try TrainingContext(threads: 2)
        let net = TrainableLCOVNet(pool: ctx.pool)
        try net.load(SafeTensors(contentsOf: weights), source: weights)
        // BatchNorm shifts near 3 keep most ReLU6 inputs away from the kinks at 0 and 6: where
        // fp32 and fp64 land on different sides of a kink, the two gradients legitimately differ
        // (measured: ~0.5 % with shifts in ±0.3, as PyTorch's own fp32 differs from its fp64).
        for unit in net.units { if let bn = unit.batchNorm { bn.shift.values = bn.shift.values.map { $0 + 3 } } }
        try net.stateDict().write(to: weights)
        var gLogits: [Tensor?] = []
        var gFeatures: [Tensor?] = []
        for s in 0..<4 {
            let spatial = [Int](repeating: side >> s, count: 3)
            let lShape = [batch, 17] + spatial
            let fShape = [batch, net.widths[s]] + spatial
            let u = Self.noise(lShape.reduce(1, *), seed: 10 + UInt64(s))
            let v = Self.noise(fShape.reduce(1, *), seed: 20 + UInt64(s), scale: 0.1)
            try u.withUnsafeBufferPointer { try NPYFile.write(dir.file("logits\(s).npy"), shape: lShape, values: $0) }
            try v.withUnsafeBufferPointer { try NPYFile.write(dir.file("features\(s).npy"), shape: fShape, values: $0) }
            gLogits.append(Tensor(planar: u, shape: lShape, pool: ctx.pool))
            gFeatures.append(Tensor(planar: v, shape: fShape, pool: ctx.pool))
        }
        try Self.runTool(
            "lcovnet_training_reference.py",
            [
                "grad", "--weights", weights, "--input", dir.file("x.npy"),
                "--upstream", dir.path, "--output", dir.file("torch.safetensors")
            ])
        let reference = try SafeTensors(contentsOf: dir.file("torch.safetensors"))

        let out = try net.forward(Tensor(planar: input, shape: inputShape, pool: ctx.pool), ctx, training: true)
        for s in 0..<4 {
            let e = Self.relativeError(out.logits[s].planar, try reference.tensors["logits\(s)"]!.floats())
            #expect(e < 1e-4, "logits at scale \(s): relative error \(e)")
        }
        try net.backward(logits: gLogits, features: gFeatures, ctx)

        var worst = (0.0, "")
        // A convolution followed by BatchNorm has a bias whose true gradient is 0 (the batch mean
        // absorbs it): both sides return rounding noise, compared against the weight gradient's scale.
        let absorbed = Set(net.units.filter { $0.batchNorm != nil }.map(\.conv.bias.key))
        for p in net.parameters where absorbed.contains(p.key) {
            let torch = try reference.tensors[p.key]!.floats()
            let weightScale = Self.norm(
                try reference.tensors[p.key.replacingOccurrences(of: ".bias", with: ".weight")]!.floats())
            let e = Self.norm(zip(p.gradients, torch).map { $0 - $1 }) / weightScale
            #expect(e <= 1e-3, "\(p.key) (absorbed by BatchNorm): error \(e) of the weight gradient's norm")
        }
        for p in net.parameters where !absorbed.contains(p.key) {
            let torch = try #require(reference.tensors[p.key], "PyTorch has no gradient for \(p.key)")
            let e = Self.relativeError(p.gradients, try torch.floats())
            if e > worst.0 { worst = (e, p.key) }
            #expect(e <= 1e-3, "\(p.key): relative error \(e)")
        }
        for s in net.statistics {
            #expect(
                Self.relativeError(s.mean, try reference.tensors["\(s.key).running_mean"]!.floats()) < 1e-4,
                "\(s.key).running_mean")
            #expect(
                Self.relativeError(s.variance, try reference.tensors["\(s.key).running_var"]!.floats()) < 1e-4,
                "\(s.key).running_var")
        }
        print(
            "network gradient check: \(net.parameters.count) parameter tensors, worst relative error \(worst.0) at \(worst.1)"
        )
    }
}
