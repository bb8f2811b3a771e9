internal import CDNNL

/// The int8 graph: s8 weights per output channel, u8 activations with calibrated per-tensor
/// scales (real value = scale × integer), int32 accumulation.
///
/// - The window is quantized on entry, to s8 (z-scored input is signed) or u8 (clip-scale input
///   is not: 8 bits instead of 7), as the calibration says; the logits leave as f32.
/// - Any LACB-H block named in `fp32_layers` (Encode_block1-4, Decode_block1-4) runs in fp32
///   on its dequantized input(s) and only its output is quantized; Encode_block1 then reads the
///   f32 window as it comes, and Decode_block4 feeds segout4 in fp32 (no quantized output at
///   all). Which blocks is chosen by measurement (`model quantize --fp32-blocks`; figures in
///   docs/INFERENCE.md).
/// - Attention: conv2_2 writes f32 at half resolution (oneDNN's sigmoid rejects u8 input), the
///   resampling applies the sigmoid and writes u8 in steps of 1/255, the gate multiplies into u8.
/// - Decoder inputs are concatenated (u8 partial sums of a split convolution would clip), so an
///   encoder block's output and the matching Up output share one scale.
/// - The bottleneck at 1/16 resolution runs in fp32: it costs nothing and keeps its depthwise
///   convolution and unpooled attention exact.
///
/// oneDNN 2.x int8 convolutions add the bias before the output scale, so biases are given in
/// accumulator units: bias / (scale_src × scale_w[oc]).
extension LCOVNetGraph {
    private func int8Weights(_ f: FoldedConvolution, values: [Float]? = nil, inChannels: Int? = nil, srcScale: Float)
        -> (GraphBuilder.ConvWeights, weightScales: [Float])
    {
        let v = values ?? f.weights
        let o = f.layer.outChannels
        let per = v.count / o
        // Symmetric per-output-channel: the largest |w| of a channel maps to 127.
        let scales: [Float] = (0..<o).map { c in max(v[c * per..<(c + 1) * per].map(abs).max() ?? 0, 1e-12) / 127 }
        let bias = (0..<o).map { f.bias[$0] / (srcScale * scales[$0]) }
        let w = GraphBuilder.ConvWeights(
            values: v, bias: bias, outChannels: o, inChannels: inChannels ?? f.layer.inChannels,
            kernel: f.layer.kernel, groups: f.layer.groups, int8Scales: scales)
        return (w, scales)
    }

    /// A quantized convolution writing `dst` at `dst.scale` (f32 dst: real values).
    private func int8Convolution(
        _ name: String, layer: String, src: GraphTensor, dst: GraphTensor, relu6: Bool,
        sumScale: Float? = nil, weights w: SafeTensors
    ) throws {
        let f = try folded(layer, w)
        let (cw, ws) = int8Weights(f, srcScale: src.scale)
        let oscales = ws.map { src.scale * $0 / dst.scale }
        var ops: [PostOps.Op] = relu6 ? [.relu6(upper: 6 / dst.scale)] : []
        if let sumScale { ops.append(.sum(scale: sumScale)) }
        try builder.convolution(
            name, src: src, weights: cw, dst: dst, postOps: PostOps(ops: ops), outputScales: oscales)
    }

    private func scale(_ scales: [String: Float], _ name: String) throws -> Float {
        guard let s = scales[name], s > 0, s.isFinite else {
            throw InferenceError("int8 model has no activation scale for \(name)")
        }
        return s
    }

    /// LACB-H in int8; `outScale` is the block output's (possibly shared) scale.
    private func highBlockInt8(
        _ name: String, _ input: GraphTensor, _ cout: Int, outScale: Float, _ w: SafeTensors,
        _ scales: [String: Float]
    ) throws -> GraphTensor {
        let b = builder
        let spatial = input.spatial
        let x = try b.newTensor(channels: cout, spatial: spatial, type: dnnl_u8, scale: try scale(scales, "\(name).x"))
        try int8Convolution("\(name).conv1", layer: "\(name).conv1", src: input, dst: x, relu6: true, weights: w)
        let pooled = try b.newTensor(channels: cout, spatial: half(spatial), type: dnnl_u8, scale: x.scale)
        try b.pooling("\(name).conv2_2.pool", src: x, dst: pooled, average: true, kernel: 4, stride: 2, padding: 1)
        let a = try b.newTensor(channels: cout, spatial: half(spatial), type: dnnl_f32)
        try int8Convolution("\(name).conv2_2", layer: "\(name).conv2_2", src: pooled, dst: a, relu6: false, weights: w)
        b.release(pooled)
        // sigmoid(a) in [0, 1] stored as u8 × 1/255.
        let gateScale: Float = 1 / 255
        let sig = try b.newTensor(channels: cout, spatial: spatial, type: dnnl_u8, scale: gateScale)
        try b.resampling(
            "\(name).conv2_2.up", src: a, dst: sig,
            postOps: PostOps(ops: [.logistic, .linear(alpha: 1 / gateScale, beta: 0)]))
        b.release(a)
        let gate = sig
        let gated = GraphTensor(
            md: gate.md, slot: gate.slot, channels: cout, spatial: spatial, type: dnnl_u8,
            scale: try scale(scales, "\(name).gate"))
        try b.binary(
            "\(name).gate", multiply: true, src0: sig, src1: x, dst: gated,
            postOps: PostOps(ops: [.linear(alpha: gateScale * x.scale / gated.scale, beta: 0)]))
        let out = GraphTensor(
            md: gated.md, slot: gated.slot, channels: cout, spatial: spatial, type: dnnl_u8, scale: outScale)
        try int8Convolution(
            "\(name).conv2_1", layer: "\(name).conv2_1", src: x, dst: out, relu6: true,
            sumScale: gated.scale / out.scale, weights: w)
        b.release(x)
        return out
    }

    /// Up: 1×1 conv + ReLU6 to `outScale`, then trilinear ×2 in u8.
    private func upInt8(_ name: String, _ input: GraphTensor, outScale: Float, _ w: SafeTensors) throws -> GraphTensor {
        let cout = LCOVNetArchitecture.layer("\(name).conv", widths: widths).outChannels
        let u = try builder.newTensor(channels: cout, spatial: input.spatial, type: dnnl_u8, scale: outScale)
        try int8Convolution("\(name).conv", layer: "\(name).conv", src: input, dst: u, relu6: true, weights: w)
        let out = try builder.newTensor(
            channels: cout, spatial: input.spatial.map { $0 * 2 }, type: dnnl_u8, scale: outScale)
        try builder.resampling("\(name).up", src: u, dst: out, postOps: PostOps())
        builder.release(u)
        return out
    }

    /// A u8 copy of an f32 tensor at `scale`.
    private func quantize(_ name: String, _ t: GraphTensor, scale: Float) throws -> GraphTensor {
        let out = try builder.newTensor(channels: t.channels, spatial: t.spatial, type: dnnl_u8, scale: scale)
        try builder.reorder(name, src: t, dst: out, scale: 1 / scale)
        return out
    }

    /// An f32 copy of a u8 tensor (real values).
    private func dequantize(_ name: String, _ t: GraphTensor) throws -> GraphTensor {
        let out = try builder.newTensor(channels: t.channels, spatial: t.spatial, type: dnnl_f32)
        try builder.reorder(name, src: t, dst: out, scale: t.scale)
        return out
    }

    /// A block kept in fp32, consuming its inputs (one, or [upsampled, skip]): u8 inputs are
    /// dequantized and released at once, the block runs in fp32, and its output is quantized to
    /// `outScale` (or left f32 when `outScale` is nil).
    private func fp32Block(_ name: String, _ inputs: [GraphTensor], _ cout: Int, outScale: Float?, _ w: SafeTensors)
        throws -> GraphTensor
    {
        let real = try inputs.enumerated().map { i, t in
            guard t.type != dnnl_f32 else { return t }
            defer { builder.release(t) }
            return try dequantize("\(name).dequantize\(i)", t)
        }
        let out = try highBlock(name, real, cout, w)
        real.forEach(builder.release)
        guard let outScale else { return out }
        let q = try quantize("\(name).quantize", out, scale: outScale)
        builder.release(out)
        return q
    }

    private func concatInt8(_ name: String, _ a: GraphTensor, _ b: GraphTensor) throws -> GraphTensor {
        precondition(a.scale == b.scale)
        let out = try builder.newTensor(
            channels: a.channels + b.channels, spatial: a.spatial, type: dnnl_u8, scale: a.scale)
        try builder.concat(name, [a, b], dst: out)
        return out
    }

    func buildInt8(_ w: SafeTensors, _ q: ModelManifest.Quantization) throws {
        let scales = q.activationScales
        let f = widths
        let b = builder
        // Scales shared by each encoder output and the Up output it is concatenated with.
        func shared(_ encoder: String, _ up: String) throws -> Float {
            max(try scale(scales, "\(encoder).out"), try scale(scales, "\(up).conv"))
        }
        let s4 = try shared("Encode_block4", "up1")
        let s3 = try shared("Encode_block3", "up2")
        let s2 = try shared("Encode_block2", "up3")
        let s1 = try shared("Encode_block1", "up4")

        let window = GraphTensor(
            md: try memoryDesc([1, 1] + self.window.dims, dnnl_f32, dnnl_ndhwc), slot: -1, channels: 1,
            spatial: self.window.dims, type: dnnl_f32)
        let fp32 = Set(q.fp32Layers)
        /// An encoder block in int8, or in fp32 where the manifest keeps it there; consumes its input.
        func encoder(_ name: String, _ input: GraphTensor, _ cout: Int, outScale: Float) throws -> GraphTensor {
            if fp32.contains(name) { return try fp32Block(name, [input], cout, outScale: outScale, w) }
            defer { b.release(input) }
            return try highBlockInt8(name, input, cout, outScale: outScale, w, scales)
        }
        let e1: GraphTensor
        if fp32.contains("Encode_block1") {
            e1 = try fp32Block("Encode_block1", [window], f[0], outScale: s1, w)
        } else {
            let input = try b.newTensor(
                channels: 1, spatial: self.window.dims, type: q.inputType == "u8" ? dnnl_u8 : dnnl_s8,
                scale: try scale(scales, "input"))
            try b.reorder("input.quantize", src: window, dst: input, scale: 1 / input.scale)
            e1 = try highBlockInt8("Encode_block1", input, f[0], outScale: s1, w, scales)
            b.release(input)
        }
        let p1 = try down("down1", e1)
        let e2 = try encoder("Encode_block2", p1, f[1], outScale: s2)
        let p2 = try down("down2", e2)
        let e3 = try encoder("Encode_block3", p2, f[2], outScale: s3)
        let p3 = try down("down3", e3)
        let e4 = try encoder("Encode_block4", p3, f[3], outScale: s4)
        let p4 = try down("down4", e4)

        // fp32 island at 1/16 resolution: the bottleneck and up1's convolution.
        let p4f = try b.newTensor(channels: p4.channels, spatial: p4.spatial, type: dnnl_f32)
        try b.reorder("down4.dequantize", src: p4, dst: p4f, scale: p4.scale)
        b.release(p4)
        let bottom = try lowBlock("Encode_BottleNeck_block5", p4f, f[4], w)
        b.release(p4f)
        let up1f = try folded("up1.conv", w)
        let u1f = try b.newTensor(channels: f[3], spatial: bottom.spatial, type: dnnl_f32)
        try b.convolution(
            "up1.conv", src: bottom, weights: convWeights(up1f), dst: u1f, postOps: PostOps(ops: [.relu6()]))
        b.release(bottom)
        let u1q = try quantize("up1.quantize", u1f, scale: s4)
        b.release(u1f)
        let u1 = try b.newTensor(channels: f[3], spatial: e4.spatial, type: dnnl_u8, scale: s4)
        try b.resampling("up1.up", src: u1q, dst: u1, postOps: PostOps())
        b.release(u1q)

        /// A decoder block on [upsampled, skip], consuming both: concatenated in int8, or
        /// dequantized side by side in fp32 (nil `outScale`: its output stays f32).
        func decoder(_ name: String, _ up: GraphTensor, _ skip: GraphTensor, _ cout: Int, outScale: Float?) throws
            -> GraphTensor
        {
            if fp32.contains(name) { return try fp32Block(name, [up, skip], cout, outScale: outScale, w) }
            let c = try concatInt8("\(name).concat", up, skip)
            b.release(up)
            b.release(skip)
            defer { b.release(c) }
            return try highBlockInt8(name, c, cout, outScale: outScale ?? scale(scales, "\(name).out"), w, scales)
        }
        let d1 = try decoder("Decode_block1", u1, e4, f[3], outScale: try scale(scales, "Decode_block1.out"))
        let u2 = try upInt8("up2", d1, outScale: s3, w)
        b.release(d1)
        let d2 = try decoder("Decode_block2", u2, e3, f[2], outScale: try scale(scales, "Decode_block2.out"))
        let u3 = try upInt8("up3", d2, outScale: s2, w)
        b.release(d2)
        let d3 = try decoder("Decode_block3", u3, e2, f[1], outScale: try scale(scales, "Decode_block3.out"))
        let u4 = try upInt8("up4", d3, outScale: s1, w)
        b.release(d3)
        // An fp32 last block feeds the head in fp32: no quantized tensor between it and the logits.
        let lastInFP32 = fp32.contains("Decode_block4")
        let d4 = try decoder(
            "Decode_block4", u4, e1, f[0], outScale: lastInFP32 ? nil : try scale(scales, "Decode_block4.out"))

        let logits = try b.newTensor(
            channels: LCOVNetArchitecture.classCount, spatial: self.window.dims, type: dnnl_f32)
        if lastInFP32 {
            try b.convolution(
                "segout4", src: d4, weights: convWeights(try folded("segout4", w)), dst: logits, postOps: PostOps())
        } else {
            try int8Convolution("segout4", layer: "segout4", src: d4, dst: logits, relu6: false, weights: w)
        }
        b.release(d4)
        try b.reorder("logits.reorder", src: logits, dst: nil)
        b.release(logits)
    }
}
