import Foundation
import Testing

@testable import Training

/// bf16 convolutions (TrainingContext(bf16: true)) against the fp32 engine on the same network
/// and batch: logits and gradients agree to what bf16 operands allow (8-bit significand,
/// relative rounding 2⁻⁹ per operand, compounded over ~40 layers and amplified by BatchNorm
/// at the coarse levels), and they do differ, so the bf16 kernels really ran.
@Suite struct BF16TrainingTests {
    /// Forward and backward of a freshly initialised network (seed 3) on two 32³ windows.
    static func gradients(bf16: Bool) throws -> (logits: [Float], gradients: [String: [Float]], absorbed: Set<String>) {
        let ctx = try TrainingContext(threads: 2, bf16: bf16)
        let net = TrainableLCOVNet(pool: ctx.pool)
        net.initialize(seed: 3)
        // BatchNorm shifts near 3 keep most ReLU6 inputs off the kinks at 0 and 6, where two
        // precisions may legitimately take different sides (NetworkGradientTests).
        for unit in net.units { if let bn = unit.batchNorm { bn.shift.values = bn.shift.values.map { $0 + 3 } } }
        let shape = [2, 1, 32, 32, 32]
        let x = Tensor(planar: NetworkGradientTests.noise(shape.reduce(1, *), seed: 1), shape: shape, pool: ctx.pool)
        let out = try net.forward(x, ctx, training: true)
        var gLogits: [Tensor?] = []
        var gFeatures: [Tensor?] = []
        for s in 0..<4 {
            let spatial = [Int](repeating: 32 >> s, count: 3)
            let l = [2, 17] + spatial
            let f = [2, net.widths[s]] + spatial
            gLogits.append(
                Tensor(
                    planar: NetworkGradientTests.noise(l.reduce(1, *), seed: 10 + UInt64(s)), shape: l, pool: ctx.pool))
            gFeatures.append(
                Tensor(
                    planar: NetworkGradientTests.noise(f.reduce(1, *), seed: 20 + UInt64(s), scale: 0.1), shape: f,
                    pool: ctx.pool))
        }
        let logits = out.logits[0].planar
        try net.backward(logits: gLogits, features: gFeatures, ctx)
        // A convolution followed by BatchNorm has a bias whose true gradient is 0 (the batch mean absorbs it).
        let absorbed = Set(net.units.filter { $0.batchNorm != nil }.map(\.conv.bias.key))
        return (logits, Dictionary(uniqueKeysWithValues: net.parameters.map { ($0.key, $0.gradients) }), absorbed)
    }

    @Test func bf16GradientsAgreeWithFP32() throws {
        let fp32 = try Self.gradients(bf16: false)
        let bf16: (logits: [Float], gradients: [String: [Float]], absorbed: Set<String>)
        do {
            bf16 = try Self.gradients(bf16: true)
        } catch let error where "\(error)".contains("(status 3)") {
            // dnnl_unimplemented: this CPU has no bf16 convolution (AVX2 without AVX512-BF16
            // or AMX, seen on 2026-12-05); there is nothing to compare, and --bf16 fails there the same way.
            print("bf16 convolutions are not implemented on this CPU: \(error)")
            return
        }
        let logitError = NetworkGradientTests.relativeError(bf16.logits, fp32.logits)
        #expect(logitError < 2e-2, "full-resolution logits: relative error \(logitError)")
        #expect(logitError > 1e-5, "bf16 logits equal fp32's (\(logitError)): the bf16 path did not run")
        var errors: [(Double, String)] = []
        let rms = fp32.gradients.mapValues { NetworkGradientTests.norm($0) / Double($0.count).squareRoot() }
        let typical = rms.values.sorted()[rms.count / 2]
        for (key, g) in fp32.gradients where !fp32.absorbed.contains(key) && rms[key]! > 1e-3 * typical {
            errors.append((NetworkGradientTests.relativeError(bf16.gradients[key]!, g), key))
        }
        errors.sort { $0.0 > $1.0 }
        let mean = errors.map(\.0).reduce(0, +) / Double(errors.count)
        print(
            "bf16 vs fp32: logits \(logitError), \(errors.count) gradients, mean relative error \(mean), worst \(errors.prefix(3))"
        )
        // Measured: mean 0.04, worst 0.12 (Encode_block4 and the bottleneck, whose BatchNorm
        // normalises over 128 and 16 values here and amplifies the rounding); minibatch noise is
        // far larger, and bf16 training runs are compared with fp32 ones in docs/BENCHMARKS.md.
        #expect(errors.count > 50)
        #expect(mean < 0.06, "mean relative gradient error \(mean)")
        for (e, key) in errors { #expect(e < 0.2, "\(key): relative error \(e)") }
    }
}
