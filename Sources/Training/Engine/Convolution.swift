internal import CDNNL
import Foundation
import Inference

/// A stride-1 "same"-padded 3D convolution with bias (grouped or not): forward-training,
/// backward-data and backward-weights on oneDNN. Weights stay in PyTorch's plain layout and are
/// reordered into the layout each primitive chose (they are small; activations never move).
/// On a bf16 context the operands (input, weights, incoming gradient) are rounded to bf16 and
/// the results (output, gradients) come out in f32.
final class Convolution {
    let layer: LCOVNetArchitecture.ConvLayer
    let weight: Parameter
    let bias: Parameter
    /// What backward needs of the forward's input: its shape and its operand (an f32 Tensor or
    /// its BF16Tensor copy, kept alive here).
    private var input: (shape: [Int], raw: UnsafeMutableRawPointer, owner: AnyObject)?
    private var packed: [String: UnsafeMutableRawPointer] = [:]

    init(_ layer: LCOVNetArchitecture.ConvLayer) {
        self.layer = layer
        let fanIn = layer.inChannels / layer.groups * layer.kernel.reduce(1, *)
        weight = Parameter(
            key: "\(layer.convKey).weight",
            shape: [layer.outChannels, fanIn / layer.kernel.reduce(1, *)] + layer.kernel, decays: true)
        bias = Parameter(key: "\(layer.convKey).bias", shape: [layer.outChannels], decays: false)
    }

    deinit { for p in packed.values { p.deallocate() } }

    var parameters: [Parameter] { [weight, bias] }

    /// Multiply-adds of one forward pass on `spatial` voxels per sample.
    func multiplyAdds(voxels: Int) -> Int {
        voxels * layer.outChannels * (layer.inChannels / layer.groups) * layer.kernel.reduce(1, *)
    }

    private var grouped: Bool { layer.groups > 1 }
    private var weightDims: [Int] {
        let k = layer.kernel
        let g = layer.groups
        return grouped
            ? [g, layer.outChannels / g, layer.inChannels / g] + k : [layer.outChannels, layer.inChannels] + k
    }
    private var plainWeights: dnnl_memory_desc_t {
        get throws { try plainDesc(weightDims, grouped ? dnnl_goidhw : dnnl_oidhw) }
    }
    private var signature: String { "\(layer.inChannels)>\(layer.outChannels) k\(layer.kernel) g\(layer.groups)" }

    /// The operand type on `ctx`: bf16 where the context asks for it and oneDNN has a fast bf16
    /// kernel for the shape (not the one-channel first layer, whose bf16 kernel is slower).
    private func operandType(_ ctx: TrainingContext) -> dnnl_data_type_t {
        ctx.bf16 && layer.inChannels / layer.groups > 1 ? dnnl_bf16 : dnnl_f32
    }

    /// The operand of `x` in type `t` (a bf16 copy, or x itself).
    private func operand(_ x: Tensor, _ t: dnnl_data_type_t, _ ctx: TrainingContext) throws -> (
        raw: UnsafeMutableRawPointer, owner: AnyObject
    ) {
        guard t == dnnl_bf16 else { return (x.raw, x) }
        let b = try BF16Tensor(converting: x, ctx)
        return (b.raw, b)
    }
    private var padding: [Int64] { layer.kernel.map { Int64($0 / 2) } }

    private func forwardPrimitive(_ ctx: TrainingContext, _ shape: [Int], training: Bool) throws -> Primitive {
        let t = operandType(ctx)
        return try ctx.primitive("conv fwd \(training) \(signature) \(shape) \(t)") {
            var src = try channelsLast(shape, t)
            var dst = try channelsLast([shape[0], layer.outChannels] + Array(shape[2...]))
            var w = try plainDesc(weightDims, dnnl_format_tag_any, t)
            var b = try plainDesc([layer.outChannels], dnnl_x)
            var desc = dnnl_convolution_desc_t()
            try check(
                dnnl_convolution_forward_desc_init(
                    &desc, training ? dnnl_forward_training : dnnl_forward_inference, dnnl_convolution_direct,
                    &src, &w, &b, &dst, [1, 1, 1], padding, padding), "conv desc \(layer.name)")
            return try ctx.makePrimitive("convolution \(layer.name)", desc: &desc)
        }
    }

    /// Weights reordered into `md` (a buffer per layout, refreshed on every call: they change every step).
    private func packedWeights(_ ctx: TrainingContext, _ md: dnnl_memory_desc_t, tag: String) throws
        -> UnsafeMutableRawPointer
    {
        let key = tag
        let buffer: UnsafeMutableRawPointer
        if let b = packed[key] {
            buffer = b
        } else {
            buffer = UnsafeMutableRawPointer.allocate(byteCount: max(byteSize(md), 64), alignment: 64)
            packed[key] = buffer
        }
        try ctx.reorder(
            from: try plainWeights, UnsafeMutableRawPointer(weight.value), to: md, buffer, key: "\(signature) \(tag)")
        return buffer
    }

    func forward(_ x: Tensor, _ ctx: TrainingContext, training: Bool) throws -> Tensor {
        precondition(x.channels == layer.inChannels, "\(layer.name): \(x.channels) input channels")
        let t = operandType(ctx)
        let p = try forwardPrimitive(ctx, x.shape, training: training)
        let y = Tensor([x.batch, layer.outChannels] + x.spatial, pool: ctx.pool)
        let wmd = p.md(dnnl_query_weights_md)
        let w = try packedWeights(ctx, wmd, tag: "fwd \(x.shape) \(t)")
        let src = try operand(x, t, ctx)
        try ctx.execute(
            p,
            [
                (Int32(DNNL_ARG_SRC), try channelsLast(x.shape, t), src.raw),
                (Int32(DNNL_ARG_WEIGHTS), wmd, w),
                (Int32(DNNL_ARG_BIAS), try plainDesc([layer.outChannels], dnnl_x), UnsafeMutableRawPointer(bias.value)),
                (Int32(DNNL_ARG_DST), try channelsLast(y.shape), y.raw)
            ])
        input = training ? (x.shape, src.raw, src.owner) : nil
        return y
    }

    /// Drops what the forward pass kept (its output received no gradient).
    func discard() { input = nil }

    /// Accumulates dL/dW and dL/db; returns dL/dx unless `inputGradient` is false (the first layer).
    func backward(_ g: Tensor, _ ctx: TrainingContext, inputGradient: Bool = true) throws -> Tensor? {
        guard let x = input else { throw TrainingError("\(layer.name): backward without a training forward pass") }
        input = nil
        let t = operandType(ctx)
        let fwd = try forwardPrimitive(ctx, x.shape, training: true)
        let srcMD = try channelsLast(x.shape, t)
        let dstMD = try channelsLast(g.shape, t)
        let biasMD = try plainDesc([layer.outChannels], dnnl_x)
        let gradient = try operand(g, t, ctx)

        let bw = try ctx.primitive("conv bwd-w \(signature) \(x.shape) \(t)") {
            var src = srcMD
            var dst = dstMD
            var w = try plainDesc(weightDims, dnnl_format_tag_any)
            var b = biasMD
            var desc = dnnl_convolution_desc_t()
            try check(
                dnnl_convolution_backward_weights_desc_init(
                    &desc, dnnl_convolution_direct, &src, &w, &b, &dst, [1, 1, 1], padding, padding),
                "conv bwd-weights desc \(layer.name)")
            return try ctx.makePrimitive("convolution backward-weights \(layer.name)", desc: &desc, hint: fwd)
        }
        let dwMD = bw.md(dnnl_query_diff_weights_md)
        let dwPacked = ctx.pool.take((byteSize(dwMD) + 3) / 4)
        let dwPlain = ctx.pool.take(weight.count)
        let db = ctx.pool.take(layer.outChannels)
        defer {
            ctx.pool.give(dwPacked, (byteSize(dwMD) + 3) / 4)
            ctx.pool.give(dwPlain, weight.count)
            ctx.pool.give(db, layer.outChannels)
        }
        try ctx.execute(
            bw,
            [
                (Int32(DNNL_ARG_SRC), srcMD, x.raw), (Int32(DNNL_ARG_DIFF_DST), dstMD, gradient.raw),
                (Int32(DNNL_ARG_DIFF_WEIGHTS), dwMD, UnsafeMutableRawPointer(dwPacked)),
                (Int32(DNNL_ARG_DIFF_BIAS), biasMD, UnsafeMutableRawPointer(db))
            ])
        try ctx.reorder(
            from: dwMD, UnsafeMutableRawPointer(dwPacked), to: try plainWeights, UnsafeMutableRawPointer(dwPlain),
            key: "\(signature) dw \(x.shape)")
        for i in 0..<weight.count { weight.gradient[i] += dwPlain[i] }
        for i in 0..<layer.outChannels { bias.gradient[i] += db[i] }

        guard inputGradient else { return nil }
        if backwardDataAsForward {
            return try backwardDataByForward(gradient.raw, gradientShape: g.shape, inputShape: x.shape, t, ctx)
        }
        let bd = try ctx.primitive("conv bwd-d \(signature) \(x.shape) \(t)") {
            var src = try channelsLast(x.shape)
            var dst = dstMD
            var w = try plainDesc(weightDims, dnnl_format_tag_any, t)
            var desc = dnnl_convolution_desc_t()
            try check(
                dnnl_convolution_backward_data_desc_init(
                    &desc, dnnl_convolution_direct, &src, &w, &dst, [1, 1, 1], padding, padding),
                "conv bwd-data desc \(layer.name)")
            return try ctx.makePrimitive("convolution backward-data \(layer.name)", desc: &desc, hint: fwd)
        }
        let wmd = bd.md(dnnl_query_weights_md)
        let w = try packedWeights(ctx, wmd, tag: "bwd \(x.shape) \(t)")
        let dx = Tensor(x.shape, pool: ctx.pool)
        try ctx.execute(
            bd,
            [
                (Int32(DNNL_ARG_DIFF_DST), dstMD, gradient.raw), (Int32(DNNL_ARG_WEIGHTS), wmd, w),
                (Int32(DNNL_ARG_DIFF_SRC), try channelsLast(x.shape), dx.raw)
            ])
        return dx
    }

    /// oneDNN 2.6 runs backward-data of the (1,1,3) convolutions on its older jit kernel at a
    /// quarter of the forward's speed (measured: 239 ms against 64 ms at 32×96×96, ic 64); other
    /// shapes are as fast either way.
    private var backwardDataAsForward: Bool { layer.groups == 1 && layer.kernel[2] > 1 }

    /// dL/dx of a stride-1, same-padded, odd-kernel convolution is the forward convolution of
    /// dL/dy with the weights' in and out channels swapped and the kernel flipped, which oneDNN
    /// runs on its fast forward (brgconv) kernels.
    private func backwardDataByForward(
        _ g: UnsafeMutableRawPointer, gradientShape: [Int], inputShape: [Int], _ t: dnnl_data_type_t,
        _ ctx: TrainingContext
    ) throws -> Tensor {
        let (ci, co) = (layer.inChannels, layer.outChannels)
        let k = layer.kernel
        let taps = k.reduce(1, *)
        let p = try ctx.primitive("conv bwd-d as fwd \(signature) \(inputShape) \(t)") {
            var src = try channelsLast(gradientShape, t)
            var dst = try channelsLast(inputShape)
            var w = try plainDesc([ci, co] + k, dnnl_format_tag_any, t)
            var desc = dnnl_convolution_desc_t()
            try check(
                dnnl_convolution_forward_desc_init(
                    &desc, dnnl_forward_inference, dnnl_convolution_direct,
                    &src, &w, nil, &dst, [1, 1, 1], padding, padding), "conv bwd-data-as-forward desc \(layer.name)")
            return try ctx.makePrimitive("convolution backward-data as forward \(layer.name)", desc: &desc)
        }
        // Plain [ci][co][taps] with the taps reversed: reversing the flattened (kd, kh, kw) index flips all three axes.
        let flipped = ctx.pool.take(weight.count)
        defer { ctx.pool.give(flipped, weight.count) }
        for o in 0..<co {
            for i in 0..<ci {
                let from = weight.value + (o * ci + i) * taps
                let to = flipped + (i * co + o) * taps
                for t in 0..<taps { to[t] = from[taps - 1 - t] }
            }
        }
        let wmd = p.md(dnnl_query_weights_md)
        let key = "bwd-as-fwd \(inputShape) \(t)"
        let buffer: UnsafeMutableRawPointer
        if let b = packed[key] {
            buffer = b
        } else {
            buffer = UnsafeMutableRawPointer.allocate(byteCount: max(byteSize(wmd), 64), alignment: 64)
            packed[key] = buffer
        }
        try ctx.reorder(
            from: try plainDesc([ci, co] + k, dnnl_oidhw), UnsafeMutableRawPointer(flipped), to: wmd, buffer,
            key: "\(signature) flipped \(inputShape) \(t)")
        let dx = Tensor(inputShape, pool: ctx.pool)
        try ctx.execute(
            p,
            [
                (Int32(DNNL_ARG_SRC), try channelsLast(gradientShape, t), g), (Int32(DNNL_ARG_WEIGHTS), wmd, buffer),
                (Int32(DNNL_ARG_DST), try channelsLast(inputShape), dx.raw)
            ])
        return dx
    }
}
