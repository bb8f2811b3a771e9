import Foundation
import Inference

/// One convolution of the architecture with what follows it: Conv · BatchNorm? · ReLU6?
final class ConvUnit {
    let conv: Convolution
    let batchNorm: BatchNorm?
    let relu: Bool
    private(set) var preActivation: Tensor?

    init(_ layer: LCOVNetArchitecture.ConvLayer, relu: Bool) {
        conv = Convolution(layer)
        batchNorm = layer.batchNormKey.map { BatchNorm(key: $0, channels: layer.outChannels) }
        self.relu = relu
    }

    var parameters: [Parameter] { conv.parameters + (batchNorm?.parameters ?? []) }

    func forward(_ x: Tensor, _ ctx: TrainingContext, training: Bool) throws -> Tensor {
        var y = try conv.forward(x, ctx, training: training)
        if let bn = batchNorm { y = try bn.forward(y, ctx, training: training) }
        guard relu else { return y }
        if training { preActivation = y }
        return Elementwise.relu6(y, ctx)
    }

    func backward(_ g: Tensor, _ ctx: TrainingContext, inputGradient: Bool = true) throws -> Tensor? {
        var d = g
        if relu {
            guard let z = preActivation else {
                throw TrainingError("\(conv.layer.name): backward without a training forward pass")
            }
            d = Elementwise.relu6Backward(g, input: z, ctx)
            preActivation = nil
        }
        if let bn = batchNorm { d = try bn.backward(d, ctx) }
        return try conv.backward(d, ctx, inputGradient: inputGradient)
    }
}
