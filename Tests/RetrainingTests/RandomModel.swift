import Foundation
import Inference
import ModelSpec

/// (A copy of SegmentationTests/RandomModel.swift: test targets cannot share files.)
/// An untrained LCOV-Net with deterministic He-initialised weights and non-trivial BatchNorm
/// statistics: enough to run the whole pipeline and check geometry, streaming and determinism
/// (its labels mean nothing).
enum RandomModel {
    static func write(to path: String, input: InputPreparation, window: [Int], seed: UInt64 = 1, version: String = "test-random") throws -> ModelDirectory {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        func uniform() -> Float {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return Float(state >> 40) / Float(1 << 24) * 2 - 1
        }
        var tensors: [String: SafeTensors.Tensor] = [:]
        for layer in LCOVNetArchitecture.layers + LCOVNetArchitecture.auxiliaryHeads {
            let fanIn = layer.inChannels / layer.groups * layer.kernel.reduce(1, *)
            let shape = [layer.outChannels, layer.inChannels / layer.groups] + layer.kernel
            let scale = (6 / Float(fanIn)).squareRoot()
            tensors["\(layer.convKey).weight"] = .init(shape: shape, values: (0..<shape.reduce(1, *)).map { _ in uniform() * scale })
            tensors["\(layer.convKey).bias"] = .init(shape: [layer.outChannels], values: (0..<layer.outChannels).map { _ in uniform() * 0.1 })
            if let bn = layer.batchNormKey {
                let n = layer.outChannels
                tensors["\(bn).weight"] = .init(shape: [n], values: (0..<n).map { _ in 1 + 0.2 * uniform() })
                tensors["\(bn).bias"] = .init(shape: [n], values: (0..<n).map { _ in 0.1 * uniform() })
                tensors["\(bn).running_mean"] = .init(shape: [n], values: (0..<n).map { _ in 0.1 * uniform() })
                tensors["\(bn).running_var"] = .init(shape: [n], values: (0..<n).map { _ in 1 + 0.5 * uniform() })
            }
        }
        let manifest = ModelManifest(modelVersion: version, classes: OrganClass.word, input: input, window: window,
                                     precision: .fp32, provenance: .init(source: "random init for tests", sourceSHA256: nil, created: "2026-11-27T00:00:00Z"))
        let model = ModelDirectory(path: path, manifest: manifest, weights: SafeTensors(tensors: tensors))
        try model.write()
        return try ModelDirectory(path: path)
    }
}
