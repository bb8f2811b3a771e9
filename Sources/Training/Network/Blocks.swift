import Foundation
import Inference

/// LACB-H (docs LCOVNET.md): x = conv1(in); out = conv2_1(x) + σ(up(conv2_2(avgpool(x)))) ⊙ x.
final class HighBlock {
    let conv1: ConvUnit, conv2_1: ConvUnit, conv2_2: ConvUnit
    let pool: Pooling
    private var saved: (x: Tensor, gate: Tensor)?

    init(_ name: String, _ cin: Int, _ cout: Int, pool buffers: BufferPool) {
        let l = LCOVNetArchitecture.highBlock(name, cin, cout)
        conv1 = ConvUnit(l[0], relu: true)
        conv2_1 = ConvUnit(l[1], relu: true)
        conv2_2 = ConvUnit(l[2], relu: false)
        pool = Pooling.attentionAverage(buffers)
    }

    var units: [ConvUnit] { [conv1, conv2_1, conv2_2] }

    func forward(_ input: Tensor, _ ctx: TrainingContext, training: Bool) throws -> Tensor {
        let x = try conv1.forward(input, ctx, training: training)
        let x1 = try conv2_1.forward(x, ctx, training: training)
        let a = try conv2_2.forward(try pool.forward(x, ctx, training: training), ctx, training: training)
        let s = Elementwise.sigmoid(try Upsampling.forward(a, ctx), ctx)
        if training { saved = (x, s) }
        return Elementwise.gate(x1, s, x, ctx)
    }

    func backward(_ g: Tensor, _ ctx: TrainingContext, inputGradient: Bool = true) throws -> Tensor? {
        guard let (x, s) = saved else {
            throw TrainingError("\(conv1.conv.layer.name): backward without a training forward pass")
        }
        saved = nil
        let (da, dx) = Elementwise.gateBackward(g, sigmoid: s, x: x, ctx)
        let dPooled = try conv2_2.backward(try Upsampling.backward(da, ctx), ctx)!
        Elementwise.accumulate(dx, try pool.backward(dPooled, ctx), ctx)
        Elementwise.accumulate(dx, try conv2_1.backward(g, ctx)!, ctx)
        return try conv1.backward(dx, ctx, inputGradient: inputGradient)
    }
}

/// LACB-L (bottleneck): x = conv1(in); out = conv2_1(x) [depthwise] + σ(conv2_2(x)) ⊙ x.
final class LowBlock {
    let conv1: ConvUnit, conv2_1: ConvUnit, conv2_2: ConvUnit
    private var saved: (x: Tensor, gate: Tensor)?

    init(_ name: String, _ cin: Int, _ cout: Int) {
        let l = LCOVNetArchitecture.lowBlock(name, cin, cout)
        conv1 = ConvUnit(l[0], relu: true)
        conv2_1 = ConvUnit(l[1], relu: true)
        conv2_2 = ConvUnit(l[2], relu: true)
    }

    var units: [ConvUnit] { [conv1, conv2_1, conv2_2] }

    func forward(_ input: Tensor, _ ctx: TrainingContext, training: Bool) throws -> Tensor {
        let x = try conv1.forward(input, ctx, training: training)
        let x1 = try conv2_1.forward(x, ctx, training: training)
        let s = Elementwise.sigmoid(try conv2_2.forward(x, ctx, training: training), ctx)
        if training { saved = (x, s) }
        return Elementwise.gate(x1, s, x, ctx)
    }

    func backward(_ g: Tensor, _ ctx: TrainingContext) throws -> Tensor {
        guard let (x, s) = saved else {
            throw TrainingError("\(conv1.conv.layer.name): backward without a training forward pass")
        }
        saved = nil
        let (da, dx) = Elementwise.gateBackward(g, sigmoid: s, x: x, ctx)
        Elementwise.accumulate(dx, try conv2_2.backward(da, ctx)!, ctx)
        Elementwise.accumulate(dx, try conv2_1.backward(g, ctx)!, ctx)
        return try conv1.backward(dx, ctx)!
    }
}

/// Up: Conv 1×1×1 · BN · ReLU6, then trilinear ×2.
final class UpBlock {
    let unit: ConvUnit

    init(_ name: String, _ cin: Int, _ cout: Int) {
        unit = ConvUnit(LCOVNetArchitecture.up(name, cin, cout), relu: true)
    }

    func forward(_ input: Tensor, _ ctx: TrainingContext, training: Bool) throws -> Tensor {
        try Upsampling.forward(try unit.forward(input, ctx, training: training), ctx)
    }

    func backward(_ g: Tensor, _ ctx: TrainingContext) throws -> Tensor {
        try unit.backward(try Upsampling.backward(g, ctx), ctx)!
    }
}
