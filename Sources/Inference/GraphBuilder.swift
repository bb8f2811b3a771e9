internal import CDNNL
import Foundation

/// An activation tensor of the graph: its oneDNN descriptor and the arena slot that holds it.
struct GraphTensor {
    var md: dnnl_memory_desc_t
    /// Arena slot, or -1 for the caller's input window.
    var slot: Int
    var channels: Int
    var spatial: [Int]
    var type: dnnl_data_type_t
    /// Real value = scale × stored value (1 for f32).
    var scale: Float = 1
}

/// One primitive execution with its arguments.
struct GraphStep {
    enum Source {
        case slot(Int)
        case input
        case output
        case constant(UnsafeMutableRawPointer)
        case scratchpad
    }
    var name: String
    var kind: String
    var primitive: dnnl_primitive_t
    var arguments: [(arg: Int32, md: dnnl_memory_desc_t, source: Source)]
    var multiplyAdds: Int
    var implementation: String
}

/// Builds the primitives of one window shape, plans the activation arena by liveness, and owns
/// every oneDNN object and buffer it made.
final class GraphBuilder {
    let context: DNNLContext
    private(set) var steps: [GraphStep] = []
    /// Arena slots: byte sizes and whether a live tensor holds them.
    private var slotSizes: [Int] = []
    private var slotFree: [Bool] = []
    private var constants: [UnsafeMutableRawPointer] = []
    private(set) var scratchpadBytes = 0

    init(context: DNNLContext) { self.context = context }

    deinit {
        for s in steps { dnnl_primitive_destroy(s.primitive) }
        for c in constants { c.deallocate() }
    }

    // MARK: Arena

    func newTensor(channels: Int, spatial: [Int], type: dnnl_data_type_t, scale: Float = 1) throws -> GraphTensor {
        // Channels-last everywhere: what brgconv picks, and what pooling, resampling and binary
        // ops run fast on, so no reorder is needed between layers.
        let md = try memoryDesc([1, channels] + spatial, type, dnnl_ndhwc)
        var m = md
        let bytes = dnnl_memory_desc_get_size(&m)
        var best = -1
        for i in slotSizes.indices
        where slotFree[i] && slotSizes[i] >= bytes && (best < 0 || slotSizes[i] < slotSizes[best]) { best = i }
        if best < 0 {
            // Grow the largest free slot rather than adding one, so freed memory is reused.
            if let grow = slotSizes.indices.filter({ slotFree[$0] }).max(by: { slotSizes[$0] < slotSizes[$1] }) {
                best = grow
                slotSizes[grow] = bytes
            } else {
                slotSizes.append(bytes)
                slotFree.append(true)
                best = slotSizes.count - 1
            }
        }
        slotFree[best] = false
        return GraphTensor(md: md, slot: best, channels: channels, spatial: spatial, type: type, scale: scale)
    }

    func release(_ t: GraphTensor) {
        if t.slot >= 0 { slotFree[t.slot] = true }
    }

    var arenaSlotSizes: [Int] { slotSizes }

    // MARK: Primitives

    private func source(_ t: GraphTensor) -> GraphStep.Source { t.slot < 0 ? .input : .slot(t.slot) }

    private func finish(
        _ name: String, kind: String, desc: UnsafeRawPointer, attr: dnnl_primitive_attr_t,
        arguments: [(Int32, dnnl_memory_desc_t, GraphStep.Source)], macs: Int,
        configure: ((dnnl_primitive_desc_t) throws -> [(Int32, dnnl_memory_desc_t, GraphStep.Source)])? = nil
    ) throws {
        var pd: dnnl_primitive_desc_t?
        defer { dnnl_primitive_attr_destroy(attr) }
        try check(dnnl_primitive_desc_create(&pd, desc, attr, context.engine, nil), "\(kind) \(name)")
        defer { dnnl_primitive_desc_destroy(pd) }
        var args = arguments
        if let configure { args += try configure(pd!) }
        var scratch = queryMD(pd!, dnnl_query_scratchpad_md)
        let scratchBytes = dnnl_memory_desc_get_size(&scratch)
        if scratchBytes > 0 {
            scratchpadBytes = max(scratchpadBytes, scratchBytes)
            args.append((Int32(DNNL_ARG_SCRATCHPAD), scratch, .scratchpad))
        }
        var primitive: dnnl_primitive_t?
        try check(dnnl_primitive_create(&primitive, pd), "create \(kind) \(name)")
        steps.append(
            GraphStep(
                name: name, kind: kind, primitive: primitive!, arguments: args.map { ($0.0, $0.1, $0.2) },
                multiplyAdds: macs, implementation: implementationName(pd!)))
    }

    /// Copies `values` into a oneDNN-owned layout chosen by `pd` through a reorder (run once, now).
    private func constant(
        _ values: UnsafeRawBufferPointer, user: dnnl_memory_desc_t, target: dnnl_memory_desc_t,
        scales: [Float]? = nil, scaleMask: Int32 = 0
    ) throws -> UnsafeMutableRawPointer {
        var t = target
        var u = user
        let bytes = dnnl_memory_desc_get_size(&t)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(bytes, 64), alignment: 64)
        constants.append(buffer)
        var src: dnnl_memory_t?
        var dst: dnnl_memory_t?
        try check(
            dnnl_memory_create(&src, &u, context.engine, UnsafeMutableRawPointer(mutating: values.baseAddress!)),
            "weights memory")
        defer { dnnl_memory_destroy(src) }
        try check(dnnl_memory_create(&dst, &t, context.engine, buffer), "weights memory")
        defer { dnnl_memory_destroy(dst) }
        var attr: dnnl_primitive_attr_t?
        try check(dnnl_primitive_attr_create(&attr), "attr_create")
        defer { dnnl_primitive_attr_destroy(attr) }
        if let scales {
            try check(
                dnnl_primitive_attr_set_output_scales(attr, Int64(scales.count), scaleMask, scales), "weight scales")
        }
        var pd: dnnl_primitive_desc_t?
        try check(
            dnnl_reorder_primitive_desc_create(&pd, &u, context.engine, &t, context.engine, attr), "weights reorder")
        defer { dnnl_primitive_desc_destroy(pd) }
        var reorder: dnnl_primitive_t?
        try check(dnnl_primitive_create(&reorder, pd), "weights reorder")
        defer { dnnl_primitive_destroy(reorder) }
        var args = [
            dnnl_exec_arg_t(arg: Int32(DNNL_ARG_FROM), memory: src),
            dnnl_exec_arg_t(arg: Int32(DNNL_ARG_TO), memory: dst)
        ]
        try check(dnnl_primitive_execute(reorder, context.stream, 2, &args), "weights reorder")
        try check(dnnl_stream_wait(context.stream), "stream wait")
        return buffer
    }

    /// Weights of a convolution, quantized or not.
    struct ConvWeights {
        var values: [Float]
        var bias: [Float]?
        var outChannels: Int
        var inChannels: Int
        var kernel: [Int]
        var groups: Int
        /// int8: per-output-channel weight scales (real = scale × s8); nil for f32 weights.
        var int8Scales: [Float]? = nil
    }

    /// A "same"-padded stride-1 convolution writing `dst` (which may already hold data for a sum post-op).
    func convolution(
        _ name: String, src: GraphTensor, weights w: ConvWeights, dst: GraphTensor,
        postOps: PostOps, outputScales: [Float]? = nil, extra: [(Int32, GraphTensor)] = []
    ) throws {
        let k = w.kernel
        let wType = w.int8Scales == nil ? dnnl_f32 : dnnl_s8
        let grouped = w.groups > 1
        let wDims =
            grouped
            ? [w.groups, w.outChannels / w.groups, w.inChannels / w.groups] + k : [w.outChannels, w.inChannels] + k
        var wAny = try memoryDesc(wDims, wType, dnnl_format_tag_any)
        var biasMD = try memoryDesc([w.outChannels], dnnl_f32, dnnl_x)
        var srcMD = src.md
        var dstMD = dst.md
        var desc = dnnl_convolution_desc_t()
        let pad = k.map { Int64($0 / 2) }
        let status =
            w.bias == nil
            ? dnnl_convolution_forward_desc_init(
                &desc, dnnl_forward_inference, dnnl_convolution_direct, &srcMD, &wAny, nil, &dstMD, [1, 1, 1], pad, pad)
            : dnnl_convolution_forward_desc_init(
                &desc, dnnl_forward_inference, dnnl_convolution_direct, &srcMD, &wAny, &biasMD, &dstMD, [1, 1, 1], pad,
                pad)
        try check(status, "convolution desc \(name)")
        // oneDNN 2.6 has no JIT fp32 convolution with an eltwise before a sum post-op on AVX2
        // (only AVX-512): it runs the reference code, 50-100× slower. There, the convolution
        // writes a temporary with the ops before the sum and a binary add does the sum. One
        // probe decides, the same the arena estimate reads (LCOVNetEngine.unfusedSumBytes).
        if fusedSumAfterEltwiseIsReference, case .sum(scale: 1)? = postOps.ops.last, postOps.ops.count > 1,
            w.int8Scales == nil, outputScales == nil
        {
            let partial = try newTensor(channels: dst.channels, spatial: dst.spatial, type: dst.type, scale: dst.scale)
            try convolution(
                name, src: src, weights: w, dst: partial, postOps: PostOps(ops: Array(postOps.ops.dropLast())),
                extra: extra)
            try binary("\(name).sum", multiply: false, src0: dst, src1: partial, dst: dst)
            release(partial)
            return
        }
        let attr = try makeAttr(postOps: postOps, outputScales: outputScales)
        let macs = dst.spatial.reduce(1, *) * w.outChannels * (w.inChannels / w.groups) * k.reduce(1, *)
        var args: [(Int32, dnnl_memory_desc_t, GraphStep.Source)] = [
            (Int32(DNNL_ARG_SRC), src.md, source(src)), (Int32(DNNL_ARG_DST), dst.md, source(dst))
        ]
        args += extra.map { ($0.0, $0.1.md, source($0.1)) }
        try finish(name, kind: "convolution", desc: &desc, attr: attr, arguments: args, macs: macs) { pd in
            var result: [(Int32, dnnl_memory_desc_t, GraphStep.Source)] = []
            let chosen = queryMD(pd, dnnl_query_weights_md)
            let userTag = grouped ? dnnl_goidhw : dnnl_oidhw
            let user = try memoryDesc(wDims, dnnl_f32, userTag)
            let weightBuffer: UnsafeMutableRawPointer
            if let s = w.int8Scales {
                // s8 = round(w / scale[oc]); the reorder multiplies by 1/scale per output channel.
                let mask: Int32 = grouped ? (1 << 0) | (1 << 1) : 1 << 0
                weightBuffer = try w.values.withUnsafeBytes {
                    try self.constant($0, user: user, target: chosen, scales: s.map { 1 / $0 }, scaleMask: mask)
                }
            } else {
                weightBuffer = try w.values.withUnsafeBytes { try self.constant($0, user: user, target: chosen) }
            }
            result.append((Int32(DNNL_ARG_WEIGHTS), chosen, .constant(weightBuffer)))
            if let bias = w.bias {
                let buffer = UnsafeMutableRawPointer.allocate(byteCount: bias.count * 4, alignment: 64)
                bias.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
                self.constants.append(buffer)
                result.append((Int32(DNNL_ARG_BIAS), biasMD, .constant(buffer)))
            }
            return result
        }
    }

    func pooling(
        _ name: String, src: GraphTensor, dst: GraphTensor, average: Bool, kernel: Int, stride: Int, padding: Int
    ) throws {
        var srcMD = src.md
        var dstMD = dst.md
        var desc = dnnl_pooling_desc_t()
        let p = [Int64](repeating: Int64(padding), count: 3)
        try check(
            dnnl_pooling_forward_desc_init(
                &desc, dnnl_forward_inference, average ? dnnl_pooling_avg_include_padding : dnnl_pooling_max,
                &srcMD, &dstMD, [Int64](repeating: Int64(stride), count: 3),
                [Int64](repeating: Int64(kernel), count: 3), p, p), "pooling desc \(name)")
        try finish(
            name, kind: average ? "avg pooling" : "max pooling", desc: &desc, attr: try makeAttr(postOps: PostOps()),
            arguments: [(Int32(DNNL_ARG_SRC), src.md, source(src)), (Int32(DNNL_ARG_DST), dst.md, source(dst))], macs: 0
        )
    }

    /// Trilinear ×2 upsampling (half-pixel centres, PyTorch's align_corners=False), with post-ops
    /// whose binary operands are `extra`.
    func resampling(
        _ name: String, src: GraphTensor, dst: GraphTensor, postOps: PostOps, extra: [(Int32, GraphTensor)] = []
    ) throws {
        var srcMD = src.md
        var dstMD = dst.md
        var desc = dnnl_resampling_desc_t()
        let factors: [Float] = zip(dst.spatial, src.spatial).map { Float($0) / Float($1) }
        try check(
            dnnl_resampling_forward_desc_init(
                &desc, dnnl_forward_inference, dnnl_resampling_linear, factors, &srcMD, &dstMD),
            "resampling desc \(name)")
        var args: [(Int32, dnnl_memory_desc_t, GraphStep.Source)] = [
            (Int32(DNNL_ARG_SRC), src.md, source(src)), (Int32(DNNL_ARG_DST), dst.md, source(dst))
        ]
        args += extra.map { ($0.0, $0.1.md, source($0.1)) }
        try finish(
            name, kind: "resampling", desc: &desc, attr: try makeAttr(postOps: postOps), arguments: args, macs: 0)
    }

    /// dst = src0 ⊙ src1 (or +), elementwise on equal shapes; dst may be src0.
    func binary(
        _ name: String, multiply: Bool, src0: GraphTensor, src1: GraphTensor, dst: GraphTensor,
        postOps: PostOps = PostOps()
    ) throws {
        var a = src0.md
        var b = src1.md
        var d = dst.md
        var desc = dnnl_binary_desc_t()
        try check(
            dnnl_binary_desc_init(&desc, multiply ? dnnl_binary_mul : dnnl_binary_add, &a, &b, &d),
            "binary desc \(name)")
        try finish(
            name, kind: multiply ? "binary mul" : "binary add", desc: &desc, attr: try makeAttr(postOps: postOps),
            arguments: [
                (Int32(DNNL_ARG_SRC_0), src0.md, source(src0)), (Int32(DNNL_ARG_SRC_1), src1.md, source(src1)),
                (Int32(DNNL_ARG_DST), dst.md, source(dst))
            ], macs: 0)
    }

    /// Reorders `src` into `dst` (nil: the caller's N, C, D, H, W f32 logits), multiplying by
    /// `scale`: quantizes, dequantizes, or changes layout at the window's edges.
    func reorder(_ name: String, src: GraphTensor, dst: GraphTensor?, scale: Float? = nil) throws {
        var srcMD = src.md
        var dstMD = try dst?.md ?? memoryDesc([1, src.channels] + src.spatial, dnnl_f32, dnnl_ncdhw)
        let attr = try makeAttr(postOps: PostOps(), outputScales: scale.map { [$0] })
        defer { dnnl_primitive_attr_destroy(attr) }
        var pd: dnnl_primitive_desc_t?
        try check(
            dnnl_reorder_primitive_desc_create(&pd, &srcMD, context.engine, &dstMD, context.engine, attr),
            "reorder \(name)")
        defer { dnnl_primitive_desc_destroy(pd) }
        var scratch = queryMD(pd!, dnnl_query_scratchpad_md)
        var args: [(arg: Int32, md: dnnl_memory_desc_t, source: GraphStep.Source)] = [
            (Int32(DNNL_ARG_FROM), src.md, source(src)), (Int32(DNNL_ARG_TO), dstMD, dst.map(source) ?? .output)
        ]
        if dnnl_memory_desc_get_size(&scratch) > 0 {
            scratchpadBytes = max(scratchpadBytes, dnnl_memory_desc_get_size(&scratch))
            args.append((Int32(DNNL_ARG_SCRATCHPAD), scratch, .scratchpad))
        }
        var primitive: dnnl_primitive_t?
        try check(dnnl_primitive_create(&primitive, pd), "create reorder \(name)")
        steps.append(
            GraphStep(
                name: name, kind: "reorder", primitive: primitive!, arguments: args, multiplyAdds: 0,
                implementation: implementationName(pd!)))
    }

    /// Concatenation along channels (equal data types and scales).
    func concat(_ name: String, _ sources: [GraphTensor], dst: GraphTensor) throws {
        var mds = sources.map(\.md)
        var dstMD = dst.md
        let attr = try makeAttr(postOps: PostOps())
        defer { dnnl_primitive_attr_destroy(attr) }
        var pd: dnnl_primitive_desc_t?
        try check(
            dnnl_concat_primitive_desc_create(&pd, &dstMD, Int32(mds.count), 1, &mds, attr, context.engine),
            "concat \(name)")
        defer { dnnl_primitive_desc_destroy(pd) }
        var args: [(arg: Int32, md: dnnl_memory_desc_t, source: GraphStep.Source)] = sources.enumerated().map {
            (Int32(DNNL_ARG_MULTIPLE_SRC) + Int32($0.offset), $0.element.md, source($0.element))
        }
        args.append((Int32(DNNL_ARG_DST), dst.md, source(dst)))
        var scratch = queryMD(pd!, dnnl_query_scratchpad_md)
        if dnnl_memory_desc_get_size(&scratch) > 0 {
            scratchpadBytes = max(scratchpadBytes, dnnl_memory_desc_get_size(&scratch))
            args.append((Int32(DNNL_ARG_SCRATCHPAD), scratch, .scratchpad))
        }
        var primitive: dnnl_primitive_t?
        try check(dnnl_primitive_create(&primitive, pd), "create concat \(name)")
        steps.append(
            GraphStep(
                name: name, kind: "concat", primitive: primitive!, arguments: args, multiplyAdds: 0,
                implementation: implementationName(pd!)))
    }

    // MARK: Calibration

    /// An f32 tensor whose values calibration reads right after step `afterStep` ran.
    struct Observation {
        var name: String
        var afterStep: Int
        var tensor: GraphTensor
    }
    private(set) var observations: [Observation] = []

    /// Marks `tensor` as it stands after the last step added so far, under `name`.
    func observe(_ name: String, _ tensor: GraphTensor) {
        precondition(tensor.type == dnnl_f32 && tensor.slot >= 0)
        observations.append(Observation(name: name, afterStep: steps.count - 1, tensor: tensor))
    }
}
