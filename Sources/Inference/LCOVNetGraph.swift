internal import CDNNL
import Foundation

/// LCOV-Net's forward pass for one window shape, as oneDNN primitives (docs/LCOVNET.md).
///
/// Fusions: BatchNorm is folded into every convolution; ReLU6 is a post-op; an LACB block's
/// attention is `resample(conv(pool(x)))` with post-ops [sigmoid, ×x] writing the block output,
/// then conv2_1 adds onto it with post-ops [ReLU6, sum]; the decoder's concatenation is never
/// built: conv1 on [up, skip] runs as conv(up) + conv(skip) with a sum post-op.
struct LCOVNetGraph {
    let builder: GraphBuilder
    let window: WindowShape
    /// LCOV-Net's own, or a wider teacher's (from the weights' shapes).
    let widths: [Int]

    /// - Parameter quantization: the int8 calibration (scales, input type, fp32 layers), or nil for fp32.
    init(
        context: DNNLContext, weights: SafeTensors, window: WindowShape,
        int8 quantization: ModelManifest.Quantization? = nil
    ) throws {
        builder = GraphBuilder(context: context)
        self.window = window
        widths = LCOVNetArchitecture.widths(of: weights)
        if let quantization { try buildInt8(weights, quantization) } else { try build(weights) }
    }

    func folded(_ name: String, _ weights: SafeTensors) throws -> FoldedConvolution {
        try FoldedConvolution(LCOVNetArchitecture.layer(name, widths: widths), from: weights)
    }

    func convWeights(_ f: FoldedConvolution, values: [Float]? = nil, inChannels: Int? = nil, bias: Bool = true)
        -> GraphBuilder.ConvWeights
    {
        GraphBuilder.ConvWeights(
            values: values ?? f.weights, bias: bias ? f.bias : nil, outChannels: f.layer.outChannels,
            inChannels: inChannels ?? f.layer.inChannels, kernel: f.layer.kernel, groups: f.layer.groups)
    }

    func half(_ s: [Int]) -> [Int] { s.map { $0 / 2 } }

    /// LACB-H on one input, or on the pair [upsampled, skip] of a decoder stage.
    func highBlock(_ name: String, _ inputs: [GraphTensor], _ cout: Int, _ w: SafeTensors) throws -> GraphTensor {
        let b = builder
        let spatial = inputs[0].spatial
        let conv1 = try folded("\(name).conv1", w)
        let x = try b.newTensor(channels: cout, spatial: spatial, type: dnnl_f32)
        if inputs.count == 1 {
            try b.convolution(
                "\(name).conv1", src: inputs[0], weights: convWeights(conv1), dst: x, postOps: PostOps(ops: [.relu6()]))
        } else {
            let cu = inputs[0].channels
            let cs = inputs[1].channels
            try b.convolution(
                "\(name).conv1[up]", src: inputs[0],
                weights: convWeights(conv1, values: conv1.inputSlice(0, cu), inChannels: cu),
                dst: x, postOps: PostOps())
            try b.convolution(
                "\(name).conv1[skip]", src: inputs[1],
                weights: convWeights(conv1, values: conv1.inputSlice(cu, cu + cs), inChannels: cs, bias: false),
                dst: x, postOps: PostOps(ops: [.sum(scale: 1), .relu6()]))
        }
        b.observe("\(name).x", x)
        let pooled = try b.newTensor(channels: cout, spatial: half(spatial), type: dnnl_f32)
        try b.pooling("\(name).conv2_2.pool", src: x, dst: pooled, average: true, kernel: 4, stride: 2, padding: 1)
        let a = try b.newTensor(channels: cout, spatial: half(spatial), type: dnnl_f32)
        try b.convolution(
            "\(name).conv2_2", src: pooled, weights: convWeights(try folded("\(name).conv2_2", w)), dst: a,
            postOps: PostOps())
        b.release(pooled)
        let out = try b.newTensor(channels: cout, spatial: spatial, type: dnnl_f32)
        // oneDNN 2.6 runs resampling with a binary post-op in its slow reference code (and
        // wrongly on channels-last), so the gate is applied by a separate in-place multiply.
        try b.resampling("\(name).conv2_2.up", src: a, dst: out, postOps: PostOps(ops: [.logistic]))
        b.release(a)
        try b.binary("\(name).gate", multiply: true, src0: out, src1: x, dst: out)
        b.observe("\(name).gate", out)
        try b.convolution(
            "\(name).conv2_1", src: x, weights: convWeights(try folded("\(name).conv2_1", w)), dst: out,
            postOps: PostOps(ops: [.relu6(), .sum(scale: 1)]))
        b.observe("\(name).out", out)
        b.release(x)
        return out
    }

    /// LACB-L: depthwise conv2_1 and an unpooled attention.
    func lowBlock(_ name: String, _ input: GraphTensor, _ cout: Int, _ w: SafeTensors) throws -> GraphTensor {
        let b = builder
        let x = try b.newTensor(channels: cout, spatial: input.spatial, type: dnnl_f32)
        try b.convolution(
            "\(name).conv1", src: input, weights: convWeights(try folded("\(name).conv1", w)), dst: x,
            postOps: PostOps(ops: [.relu6()]))
        let out = try b.newTensor(channels: cout, spatial: input.spatial, type: dnnl_f32)
        try b.convolution(
            "\(name).conv2_2", src: x, weights: convWeights(try folded("\(name).conv2_2", w)), dst: out,
            postOps: PostOps(ops: [.relu6(), .logistic, .binaryMul(x.md)]), extra: [(postOpSrc1(2), x)])
        try b.convolution(
            "\(name).conv2_1", src: x, weights: convWeights(try folded("\(name).conv2_1", w)), dst: out,
            postOps: PostOps(ops: [.relu6(), .sum(scale: 1)]))
        b.release(x)
        return out
    }

    func down(_ name: String, _ input: GraphTensor) throws -> GraphTensor {
        let out = try builder.newTensor(
            channels: input.channels, spatial: half(input.spatial), type: input.type, scale: input.scale)
        try builder.pooling(name, src: input, dst: out, average: false, kernel: 2, stride: 2, padding: 0)
        return out
    }

    func up(_ name: String, _ input: GraphTensor, _ w: SafeTensors) throws -> GraphTensor {
        let f = try folded("\(name).conv", w)
        let u = try builder.newTensor(channels: f.layer.outChannels, spatial: input.spatial, type: dnnl_f32)
        try builder.convolution(
            "\(name).conv", src: input, weights: convWeights(f), dst: u, postOps: PostOps(ops: [.relu6()]))
        builder.observe("\(name).conv", u)
        let out = try builder.newTensor(
            channels: f.layer.outChannels, spatial: input.spatial.map { $0 * 2 }, type: dnnl_f32)
        try builder.resampling("\(name).up", src: u, dst: out, postOps: PostOps())
        builder.release(u)
        return out
    }

    func build(_ w: SafeTensors) throws {
        let f = widths
        let b = builder
        // The caller's 1×1×D×H×W window: with one channel, N,C,D,H,W and channels-last coincide.
        let input = GraphTensor(
            md: try memoryDesc([1, 1] + window.dims, dnnl_f32, dnnl_ndhwc), slot: -1, channels: 1,
            spatial: window.dims, type: dnnl_f32)
        let e1 = try highBlock("Encode_block1", [input], f[0], w)
        let p1 = try down("down1", e1)
        let e2 = try highBlock("Encode_block2", [p1], f[1], w)
        b.release(p1)
        let p2 = try down("down2", e2)
        let e3 = try highBlock("Encode_block3", [p2], f[2], w)
        b.release(p2)
        let p3 = try down("down3", e3)
        let e4 = try highBlock("Encode_block4", [p3], f[3], w)
        b.release(p3)
        let p4 = try down("down4", e4)
        let bottom = try lowBlock("Encode_BottleNeck_block5", p4, f[4], w)
        b.release(p4)
        let u1 = try up("up1", bottom, w)
        b.release(bottom)
        let d1 = try highBlock("Decode_block1", [u1, e4], f[3], w)
        b.release(u1)
        b.release(e4)
        let u2 = try up("up2", d1, w)
        b.release(d1)
        let d2 = try highBlock("Decode_block2", [u2, e3], f[2], w)
        b.release(u2)
        b.release(e3)
        let u3 = try up("up3", d2, w)
        b.release(d2)
        let d3 = try highBlock("Decode_block3", [u3, e2], f[1], w)
        b.release(u3)
        b.release(e2)
        let u4 = try up("up4", d3, w)
        b.release(d3)
        let d4 = try highBlock("Decode_block4", [u4, e1], f[0], w)
        b.release(u4)
        b.release(e1)
        let head = try folded("segout4", w)
        let logits = try b.newTensor(channels: head.layer.outChannels, spatial: window.dims, type: dnnl_f32)
        try b.convolution("segout4", src: d4, weights: convWeights(head), dst: logits, postOps: PostOps())
        b.release(d4)
        try b.reorder("logits.reorder", src: logits, dst: nil)
        b.release(logits)
    }
}
