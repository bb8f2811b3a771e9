internal import CDNNL
import Foundation
import Inference

/// Every oneDNN status of the training engine goes through Inference's check, as a TrainingError.
func check(_ status: dnnl_status_t, _ what: @autoclosure () -> String) throws {
    try checkDNNL(status, what(), as: { TrainingError($0) })
}

/// A training failure, one line naming what failed and why.
public struct TrainingError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Channels-last (N, D, H, W, C in memory) f32 descriptor of an N×C×D×H×W tensor: the layout
/// brgconv, pooling and resampling run fast on, so activations are never reordered.
func channelsLast(_ shape: [Int], _ type: dnnl_data_type_t = dnnl_f32) throws -> dnnl_memory_desc_t {
    try plainDesc(shape, dnnl_ndhwc, type)
}

func plainDesc(_ dims: [Int], _ tag: dnnl_format_tag_t, _ type: dnnl_data_type_t = dnnl_f32) throws
    -> dnnl_memory_desc_t
{
    var md = dnnl_memory_desc_t()
    let d = dims.map { Int64($0) }
    try check(dnnl_memory_desc_init_by_tag(&md, Int32(d.count), d, type, tag), "memory_desc_init \(dims)")
    return md
}

func byteSize(_ md: dnnl_memory_desc_t) -> Int {
    var m = md
    return dnnl_memory_desc_get_size(&m)
}

func sameDesc(_ a: dnnl_memory_desc_t, _ b: dnnl_memory_desc_t) -> Bool {
    var x = a
    var y = b
    return dnnl_memory_desc_equal(&x, &y) != 0
}

/// The CPU engine, one stream, the OpenMP thread count, whether convolutions compute in bf16, a
/// shared user scratchpad, and the primitives built so far (by a key that names the operation
/// and its shapes).
final class TrainingContext {
    /// The engine and stream, set up as inference sets them up.
    private let dnnl: DNNLContext
    var engine: dnnl_engine_t { dnnl.engine }
    var stream: dnnl_stream_t { dnnl.stream }
    let threads: Int
    /// Convolutions (forward, backward-data, backward-weights) take bf16 operands and accumulate
    /// in f32; weights, gradients, optimizer state and every other operation stay f32.
    let bf16: Bool
    let pool = BufferPool()
    private var scratchpad: UnsafeMutableRawPointer?
    private var scratchpadBytes = 0
    private var primitives: [String: Primitive] = [:]

    init(threads: Int, bf16: Bool = false) throws {
        self.threads = max(1, threads)
        self.bf16 = bf16
        dnnl = try DNNLContext()
        omp_set_num_threads(Int32(self.threads))
    }

    deinit {
        primitives.removeAll()
        scratchpad?.deallocate()
    }

    /// The primitive cached under `key`, built by `make` the first time.
    func primitive(_ key: String, _ make: () throws -> Primitive) rethrows -> Primitive {
        if let p = primitives[key] { return p }
        let p = try make()
        primitives[key] = p
        return p
    }

    /// Builds a primitive from an operation descriptor (scratchpad owned by this context).
    func makePrimitive(_ what: String, desc: UnsafeRawPointer, hint: Primitive? = nil) throws -> Primitive {
        var attr: dnnl_primitive_attr_t?
        try check(dnnl_primitive_attr_create(&attr), "attr_create")
        defer { dnnl_primitive_attr_destroy(attr) }
        try check(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "set_scratchpad_mode")
        var pd: dnnl_primitive_desc_t?
        try check(dnnl_primitive_desc_create(&pd, desc, attr, engine, hint?.pd), what)
        return try Primitive(pd: pd!, what: what)
    }

    func scratchpad(bytes: Int) -> UnsafeMutableRawPointer? {
        guard bytes > 0 else { return nil }
        if bytes > scratchpadBytes {
            scratchpad?.deallocate()
            scratchpad = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 4096)
            scratchpadBytes = bytes
        }
        return scratchpad
    }

    /// Runs `primitive` with the given arguments (pointers into caller-owned buffers).
    func execute(_ primitive: Primitive, _ arguments: [(Int32, dnnl_memory_desc_t, UnsafeMutableRawPointer)]) throws {
        var memories: [dnnl_memory_t?] = []
        defer { for m in memories { dnnl_memory_destroy(m) } }
        var args: [dnnl_exec_arg_t] = []
        var all = arguments
        if let pad = scratchpad(bytes: primitive.scratchpadBytes) {
            all.append((Int32(DNNL_ARG_SCRATCHPAD), primitive.scratchpadMD, pad))
        }
        for (arg, md, pointer) in all {
            var m = md
            var memory: dnnl_memory_t?
            try check(dnnl_memory_create(&memory, &m, engine, pointer), "memory for \(primitive.what)")
            memories.append(memory)
            args.append(dnnl_exec_arg_t(arg: arg, memory: memory))
        }
        omp_set_num_threads(Int32(threads))
        try check(
            dnnl_primitive_execute(primitive.handle, stream, Int32(args.count), &args), "execute \(primitive.what)")
        try check(dnnl_stream_wait(stream), "stream wait")
    }

    /// Copies between two layouts of the same tensor.
    func reorder(
        from src: dnnl_memory_desc_t, _ srcPointer: UnsafeMutableRawPointer,
        to dst: dnnl_memory_desc_t, _ dstPointer: UnsafeMutableRawPointer, key: String
    ) throws {
        let p = try primitive("reorder \(key)") {
            var s = src
            var d = dst
            var pd: dnnl_primitive_desc_t?
            try check(dnnl_reorder_primitive_desc_create(&pd, &s, engine, &d, engine, nil), "reorder \(key)")
            return try Primitive(pd: pd!, what: "reorder \(key)")
        }
        try execute(p, [(Int32(DNNL_ARG_FROM), src, srcPointer), (Int32(DNNL_ARG_TO), dst, dstPointer)])
    }
}

/// A primitive with the descriptor it was made from (kept: backward passes need it as a hint).
final class Primitive {
    let pd: dnnl_primitive_desc_t
    let handle: dnnl_primitive_t
    let what: String
    let scratchpadMD: dnnl_memory_desc_t
    let scratchpadBytes: Int

    init(pd: dnnl_primitive_desc_t, what: String) throws {
        self.pd = pd
        self.what = what
        var p: dnnl_primitive_t?
        try check(dnnl_primitive_create(&p, pd), "create \(what)")
        handle = p!
        scratchpadMD = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0).pointee
        scratchpadBytes = byteSize(scratchpadMD)
    }

    func md(_ query: dnnl_query_t, _ index: Int32 = 0) -> dnnl_memory_desc_t {
        dnnl_primitive_desc_query_md(pd, query, index).pointee
    }

    var implementation: String {
        var name: UnsafePointer<CChar>?
        guard dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &name) == dnnl_success, let name else {
            return "?"
        }
        return String(cString: name)
    }

    deinit {
        dnnl_primitive_destroy(handle)
        dnnl_primitive_desc_destroy(pd)
    }
}
