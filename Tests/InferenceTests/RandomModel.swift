import Foundation
import Inference
import ModelSpec

/// An LCOV-Net model with random weights made in Swift (He-uniform convolutions, BatchNorm
/// statistics far from identity), for tests that compare our own engines with each other.
enum RandomModel {
    static func make(seed: UInt64, at path: String) throws -> ModelDirectory {
        var state = seed &+ 0x9E3779B97F4A7C15
        func uniform(_ lo: Float, _ hi: Float) -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return lo + (hi - lo) * Float(state >> 40) / Float(1 << 24)
        }
        var tensors: [String: SafeTensors.Tensor] = [:]
        for layer in LCOVNetArchitecture.layers {
            let fanIn = layer.inChannels / layer.groups * layer.kernel.reduce(1, *)
            let bound = (3 / Float(fanIn)).squareRoot()
            let shape = [layer.outChannels, layer.inChannels / layer.groups] + layer.kernel
            tensors["\(layer.convKey).weight"] = .init(shape: shape, values: (0..<shape.reduce(1, *)).map { _ in uniform(-bound, bound) })
            tensors["\(layer.convKey).bias"] = .init(shape: [layer.outChannels], values: (0..<layer.outChannels).map { _ in uniform(-0.2, 0.2) })
            if let bn = layer.batchNormKey {
                let o = layer.outChannels
                tensors["\(bn).weight"] = .init(shape: [o], values: (0..<o).map { _ in uniform(0.5, 1.5) })
                tensors["\(bn).bias"] = .init(shape: [o], values: (0..<o).map { _ in uniform(-0.3, 0.3) })
                tensors["\(bn).running_mean"] = .init(shape: [o], values: (0..<o).map { _ in uniform(-0.3, 0.3) })
                tensors["\(bn).running_var"] = .init(shape: [o], values: (0..<o).map { _ in uniform(0.5, 2) })
            }
        }
        let manifest = ModelManifest(modelVersion: "test", classes: OrganClass.word, input: .officialCheckpoint, window: [64, 160, 160],
                                     precision: .fp32, provenance: .init(source: "RandomModel seed \(seed)", sourceSHA256: nil, created: ""))
        let model = ModelDirectory(path: path, manifest: manifest, weights: SafeTensors(tensors: tensors))
        try model.write()
        return model
    }
}
