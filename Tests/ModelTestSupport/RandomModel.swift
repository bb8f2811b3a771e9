import Foundation
import Inference
import ModelSpec

/// An untrained LCOV-Net with deterministic He-initialised weights: enough to run the whole
/// pipeline and check geometry, streaming, determinism and our engines against each other (its
/// labels mean nothing). One generator for every test target.
public enum RandomModel {
    /// A coarse preparation (6 × 6 × 8 mm, LPS, body crop) so that a random model segments a small
    /// phantom in seconds in a debug build: the tests' common recipe.
    public static let coarseRecipe = InputPreparation(
        orientation: "LPS", resample: .spacing([6, 6, 8]), normalization: .clipScale(min: -200, max: 300),
        bodyCrop: .init(thresholdHU: -500, marginMM: 10))

    /// How far the BatchNorm statistics and biases are from identity.
    public enum Statistics: Sendable {
        /// Scales near 1, small shifts: activations stay in a trained network's range.
        case nearIdentity
        /// Scales 0.5-1.5, shifts ±0.3, variances 0.5-2: folding BatchNorm into the
        /// convolutions is really exercised (parity and int8 tests).
        case farFromIdentity
    }

    public static func write(
        to path: String, input: InputPreparation = .officialCheckpoint, window: [Int] = [64, 160, 160],
        seed: UInt64 = 1, version: String = "test-random", statistics: Statistics = .nearIdentity
    ) throws -> ModelDirectory {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        /// Uniform in [−1, 1) (xorshift64).
        func uniform() -> Float {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return Float(state >> 40) / Float(1 << 24) * 2 - 1
        }
        func uniform(_ lo: Float, _ hi: Float) -> Float { lo + (hi - lo) * (uniform() + 1) / 2 }
        let far = statistics == .farFromIdentity
        var tensors: [String: SafeTensors.Tensor] = [:]
        for layer in LCOVNetArchitecture.layers + LCOVNetArchitecture.auxiliaryHeads {
            let fanIn = layer.inChannels / layer.groups * layer.kernel.reduce(1, *)
            let shape = [layer.outChannels, layer.inChannels / layer.groups] + layer.kernel
            let scale = ((far ? 3 : 6) / Float(fanIn)).squareRoot()
            tensors["\(layer.convKey).weight"] = .init(
                shape: shape, values: (0..<shape.reduce(1, *)).map { _ in uniform() * scale })
            tensors["\(layer.convKey).bias"] = .init(
                shape: [layer.outChannels], values: (0..<layer.outChannels).map { _ in uniform() * (far ? 0.2 : 0.1) })
            if let bn = layer.batchNormKey {
                let n = layer.outChannels
                tensors["\(bn).weight"] = .init(
                    shape: [n], values: (0..<n).map { _ in far ? uniform(0.5, 1.5) : 1 + 0.2 * uniform() })
                tensors["\(bn).bias"] = .init(shape: [n], values: (0..<n).map { _ in uniform() * (far ? 0.3 : 0.1) })
                tensors["\(bn).running_mean"] = .init(
                    shape: [n], values: (0..<n).map { _ in uniform() * (far ? 0.3 : 0.1) })
                tensors["\(bn).running_var"] = .init(
                    shape: [n], values: (0..<n).map { _ in far ? uniform(0.5, 2) : 1 + 0.5 * uniform() })
            }
        }
        let manifest = ModelManifest(
            modelVersion: version, classes: OrganClass.word, input: input, window: window, precision: .fp32,
            provenance: .init(
                source: "random init for tests, seed \(seed)", sourceSHA256: nil, created: "2026-11-27T00:00:00Z"))
        let model = ModelDirectory(path: path, manifest: manifest, weights: SafeTensors(tensors: tensors))
        try model.write()
        return try ModelDirectory(path: path)
    }
}
