package import CDNNL

/// A oneDNN call failed; `what` names the primitive or call.
public struct InferenceError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Every oneDNN status goes through here, the trainer's too (with its own error type).
package func checkDNNL(
    _ status: dnnl_status_t, _ what: @autoclosure () -> String,
    as error: (String) -> any Error = { InferenceError($0) }
) throws {
    guard status == dnnl_success else {
        throw error("oneDNN: \(what()) failed (status \(status.rawValue))")
    }
}

func check(_ status: dnnl_status_t, _ what: @autoclosure () -> String) throws {
    try checkDNNL(status, what())
}

/// The CPU engine and one in-order stream (inference and training alike).
package final class DNNLContext {
    package let engine: dnnl_engine_t
    package let stream: dnnl_stream_t

    package init() throws {
        var e: dnnl_engine_t?
        try check(dnnl_engine_create(&e, dnnl_cpu, 0), "engine_create")
        var s: dnnl_stream_t?
        try check(dnnl_stream_create(&s, e, dnnl_stream_default_flags.rawValue), "stream_create")
        engine = e!
        stream = s!
    }

    deinit {
        dnnl_stream_destroy(stream)
        dnnl_engine_destroy(engine)
    }
}

/// Whether this CPU's oneDNN runs an fp32 convolution with post-ops [eltwise, sum] only in its
/// reference code (AVX2 without AVX-512, oneDNN 2.6): then GraphBuilder splits the sum off,
/// which costs a temporary, and the arena estimate counts it. Probed once on a small layer
/// shaped like LCOV-Net's (channels-last, 3×3×1 kernel).
let fusedSumAfterEltwiseIsReference: Bool = {
    guard let context = try? DNNLContext(),
        var src = try? memoryDesc([1, 32, 8, 8, 8], dnnl_f32, dnnl_ndhwc),
        var weights = try? memoryDesc([32, 32, 3, 3, 1], dnnl_f32, dnnl_format_tag_any),
        var dst = try? memoryDesc([1, 32, 8, 8, 8], dnnl_f32, dnnl_ndhwc),
        let attr = try? makeAttr(postOps: PostOps(ops: [.relu6(), .sum(scale: 1)]))
    else { return false }
    defer { dnnl_primitive_attr_destroy(attr) }
    var desc = dnnl_convolution_desc_t()
    guard
        dnnl_convolution_forward_desc_init(
            &desc, dnnl_forward_inference, dnnl_convolution_direct, &src, &weights, nil, &dst,
            [1, 1, 1], [1, 1, 0], [1, 1, 0]) == dnnl_success
    else { return false }
    var pd: dnnl_primitive_desc_t?
    guard dnnl_primitive_desc_create(&pd, &desc, attr, context.engine, nil) == dnnl_success, let pd else {
        return false
    }
    defer { dnnl_primitive_desc_destroy(pd) }
    return implementationName(pd).hasPrefix("ref")
}()

/// Argument index of a binary post-op's second operand (DNNL_ARG_ATTR_MULTIPLE_POST_OP(i) | SRC_1).
func postOpSrc1(_ index: Int) -> Int32 {
    Int32(DNNL_ARG_ATTR_MULTIPLE_POST_OP_BASE) * Int32(index + 1) | Int32(DNNL_ARG_SRC_1)
}

/// A plain memory descriptor (dims in N, C, D, H, W order) with a format tag.
func memoryDesc(_ dims: [Int], _ type: dnnl_data_type_t, _ tag: dnnl_format_tag_t) throws -> dnnl_memory_desc_t {
    var md = dnnl_memory_desc_t()
    let d = dims.map { Int64($0) }
    try check(dnnl_memory_desc_init_by_tag(&md, Int32(d.count), d, type, tag), "memory_desc_init \(dims)")
    return md
}

/// Post-op chain under construction; owned by a primitive attribute.
struct PostOps {
    enum Op {
        case relu6(scale: Float = 1, upper: Float = 6)
        case logistic
        case linear(alpha: Float, beta: Float)
        case sum(scale: Float)
        case binaryMul(dnnl_memory_desc_t)
        case binaryAdd(dnnl_memory_desc_t)
    }
    var ops: [Op] = []
}

/// Primitive attributes: user scratchpad, output scales and post-ops.
func makeAttr(postOps: PostOps, outputScales: [Float]? = nil) throws -> dnnl_primitive_attr_t {
    var attr: dnnl_primitive_attr_t?
    try check(dnnl_primitive_attr_create(&attr), "attr_create")
    try check(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "set_scratchpad_mode")
    if let scales = outputScales {
        try check(
            dnnl_primitive_attr_set_output_scales(attr, Int64(scales.count), scales.count == 1 ? 0 : 1 << 1, scales),
            "set_output_scales")
    }
    if !postOps.ops.isEmpty {
        var po: dnnl_post_ops_t?
        try check(dnnl_post_ops_create(&po), "post_ops_create")
        defer { dnnl_post_ops_destroy(po) }
        for op in postOps.ops {
            switch op {
            case .relu6(let scale, let upper):
                try check(dnnl_post_ops_append_eltwise(po, scale, dnnl_eltwise_clip, 0, upper), "append relu6")
            case .logistic:
                try check(dnnl_post_ops_append_eltwise(po, 1, dnnl_eltwise_logistic, 0, 0), "append logistic")
            case .linear(let alpha, let beta):
                try check(dnnl_post_ops_append_eltwise(po, 1, dnnl_eltwise_linear, alpha, beta), "append linear")
            case .sum(let scale):
                try check(dnnl_post_ops_append_sum(po, scale), "append sum")
            case .binaryMul(var md):
                try check(dnnl_post_ops_append_binary(po, dnnl_binary_mul, &md), "append binary mul")
            case .binaryAdd(var md):
                try check(dnnl_post_ops_append_binary(po, dnnl_binary_add, &md), "append binary add")
            }
        }
        try check(dnnl_primitive_attr_set_post_ops(attr, po), "set_post_ops")
    }
    return attr!
}

/// A primitive descriptor's query for one of its memory descriptors.
func queryMD(_ pd: dnnl_primitive_desc_t, _ what: dnnl_query_t, _ index: Int32 = 0) -> dnnl_memory_desc_t {
    dnnl_primitive_desc_query_md(pd, what, index).pointee
}

/// The implementation oneDNN chose (e.g. "brg:avx512_core_vnni"), for the per-layer breakdown.
func implementationName(_ pd: dnnl_primitive_desc_t) -> String {
    var name: UnsafePointer<CChar>?
    guard dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &name) == dnnl_success, let name else {
        return "?"
    }
    return String(cString: name)
}
