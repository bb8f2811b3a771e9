internal import CDNNL
import Foundation

/// LCOV-Net on oneDNN for one window shape: primitives are built once, activations live in one
/// preallocated arena, and `predict` only executes.
///
/// Shapes: `window` holds 1×1×D×H×W float32 values (C order, D = slices, H = rows, W = columns),
/// prepared as the model's manifest says; `logits` receives 1×17×D×H×W float32 (C order), the
/// network's full-resolution output (segout4) before softmax.
///
/// One engine runs one window at a time (`predict` takes a lock); build one engine per
/// concurrent stream of windows.
public final class LCOVNetEngine: @unchecked Sendable {
    // @unchecked: oneDNN handles and the arena are touched only under `lock` or in init/deinit.
    public let window: WindowShape
    public let precision: Precision
    public let threads: Int
    public var classCount: Int { LCOVNetArchitecture.classCount }

    private let context: DNNLContext
    private let graph: LCOVNetGraph
    private let lock = NSLock()
    private var arena: [UnsafeMutableRawPointer] = []
    private var scratchpad: UnsafeMutableRawPointer?
    /// Per step: its argument list, with memory objects bound to arena buffers.
    private var bound: [[dnnl_exec_arg_t]] = []
    private var memories: [dnnl_memory_t] = []
    /// (step, argument index) pairs that point at the caller's input or output.
    private var inputBindings: [(Int, Int)] = []
    private var outputBindings: [(Int, Int)] = []

    /// - Parameters:
    ///   - precision: nil takes the model's own precision.
    ///   - threads: OpenMP threads for oneDNN (set in-process; the environment is read only at load).
    public init(
        model: ModelDirectory, precision: Precision? = nil, threads: Int = ProcessInfo.processInfo.activeProcessorCount,
        window: WindowShape
    ) throws {
        self.window = window
        self.precision = precision ?? model.manifest.precision
        self.threads = max(1, threads)
        var quantization: ModelManifest.Quantization?
        if self.precision == .int8 {
            guard let q = model.manifest.quantization else {
                throw InferenceError(
                    "\(model.path): no int8 calibration in this model (make one with lcovnet model quantize)")
            }
            quantization = q
        }
        omp_set_num_threads(Int32(self.threads))
        context = try DNNLContext()
        graph = try LCOVNetGraph(context: context, weights: model.weights, window: window, int8: quantization)
        try bind()
    }

    deinit {
        for m in memories { dnnl_memory_destroy(m) }
        for a in arena { a.deallocate() }
        scratchpad?.deallocate()
    }

    /// Allocates the arena (touching every page now, not during the first window) and binds
    /// every primitive argument to its buffer.
    private func bind() throws {
        let b = graph.builder
        for size in b.arenaSlotSizes {
            let p = UnsafeMutableRawPointer.allocate(byteCount: max(size, 64), alignment: 4096)
            memset(p, 0, max(size, 64))
            arena.append(p)
        }
        if b.scratchpadBytes > 0 {
            scratchpad = UnsafeMutableRawPointer.allocate(byteCount: b.scratchpadBytes, alignment: 4096)
            memset(scratchpad!, 0, b.scratchpadBytes)
        }
        for (s, step) in b.steps.enumerated() {
            var args: [dnnl_exec_arg_t] = []
            for (a, argument) in step.arguments.enumerated() {
                let pointer: UnsafeMutableRawPointer?
                switch argument.source {
                case .slot(let i): pointer = arena[i]
                case .constant(let p): pointer = p
                case .scratchpad: pointer = scratchpad
                case .input:
                    pointer = nil
                    inputBindings.append((s, a))
                case .output:
                    pointer = nil
                    outputBindings.append((s, a))
                }
                var md = argument.md
                var memory: dnnl_memory_t?
                try check(dnnl_memory_create(&memory, &md, context.engine, pointer), "memory for \(step.name)")
                memories.append(memory!)
                args.append(dnnl_exec_arg_t(arg: argument.arg, memory: memory))
            }
            bound.append(args)
        }
    }

    /// Bytes of activations, scratchpad and weights this engine holds.
    public var arenaBytes: Int { graph.builder.arenaSlotSizes.reduce(0, +) + graph.builder.scratchpadBytes }

    /// What `arenaBytes` will be for a window, before building an engine (to choose a window
    /// within a memory budget). Measured with `lcovnet bench` at 32×96×96 and 64×128×176 and by
    /// Int8Tests at 32×64×64: int8 167-169 bytes per window voxel, fp32 551-554, linear in the
    /// voxels; an LACB-H block kept in fp32 inside the int8 graph adds its f32 activations
    /// (Encode_block1 +188, Decode_block4 +360 with its two dequantized inputs, the deeper
    /// blocks 0-31), never more than the fp32 graph. Rounded up by about 4 % (Int8Tests holds
    /// the engines to it).
    /// - Parameters:
    ///   - fp32Layers: the int8 model's `fp32_layers` (ModelManifest.Quantization).
    ///   - widths: a wider network (a teacher) holds activations in proportion to its widest
    ///     ratio to LCOV-Net's own (an upper bound: the measured figures are LCOV-Net's).
    public static func estimatedArenaBytes(
        window: WindowShape, precision: Precision, fp32Layers: [String] = [],
        widths: [Int] = LCOVNetArchitecture.widths
    ) -> Int {
        let unfused = fusedSumAfterEltwiseIsReference
        let fp32 = 576 + (unfused ? unfusedSumBytes["all"]! : 0)
        let perVoxel: Int
        switch precision {
        case .int8:
            let extra = fp32Layers.reduce(0) {
                $0 + (fp32BlockArenaBytes[$1] ?? 0) + (unfused ? unfusedSumBytes[$1] ?? 0 : 0)
            }
            perVoxel = min(176 + extra, fp32)
        case .fp32: perVoxel = fp32
        }
        let ratio = zip(widths, LCOVNetArchitecture.widths).map { Double($0) / Double($1) }.max() ?? 1
        return Int((Double(window.voxelCount * perVoxel) * max(ratio, 1)).rounded(.up))
    }

    /// Bytes per window voxel that an LACB-H block kept in fp32 adds to the int8 arena.
    static let fp32BlockArenaBytes = [
        "Encode_block1": 196, "Encode_block2": 4, "Encode_block3": 8, "Encode_block4": 4,
        "Decode_block1": 8, "Decode_block2": 16, "Decode_block3": 34, "Decode_block4": 375
    ]

    /// Bytes per window voxel that the split-off sum's temporary adds (where the fused sum only
    /// has a reference kernel), per fp32 block and for the whole fp32 graph; measured on an AVX2
    /// machine with Int8Tests (e.g. fp32 682, Decode_block4 in fp32 641 bytes per voxel).
    static let unfusedSumBytes = [
        "all": 112, "Encode_block1": 56, "Encode_block2": 24, "Encode_block3": 4, "Encode_block4": 2,
        "Decode_block1": 2, "Decode_block2": 4, "Decode_block3": 24, "Decode_block4": 96
    ]

    /// Multiply-adds of one window.
    public var multiplyAdds: Int { graph.builder.steps.reduce(0) { $0 + $1.multiplyAdds } }

    /// One row of the per-layer breakdown.
    public struct StepTiming: Sendable, Codable {
        public var name: String
        public var kind: String
        public var implementation: String
        public var multiplyAdds: Int
        public var seconds: Double
    }

    /// Runs the network on one window; see the type's documentation for the shapes.
    public func predict(window input: UnsafeBufferPointer<Float>, into logits: UnsafeMutableBufferPointer<Float>) throws
    {
        _ = try run(input, logits, timed: false)
    }

    /// Like `predict`, waiting after every primitive to time it (slower; for `lcovnet bench`).
    public func profile(window input: UnsafeBufferPointer<Float>, into logits: UnsafeMutableBufferPointer<Float>) throws
        -> [StepTiming]
    {
        try run(input, logits, timed: true)
    }

    /// Runs an fp32 engine on one window and hands every observed activation (f32, channels-last)
    /// to `observe` by name, right after it is complete: the input of int8 calibration.
    func calibrate(
        window input: UnsafeBufferPointer<Float>, into logits: UnsafeMutableBufferPointer<Float>,
        observe: (String, UnsafeBufferPointer<Float>) -> Void
    ) throws {
        try withoutActuallyEscaping(observe) { observe in
            precondition(precision == .fp32)
            observe("input", input)
            _ = try run(input, logits, timed: false) { step in
                for o in self.graph.builder.observations where o.afterStep == step {
                    var md = o.tensor.md
                    let count = dnnl_memory_desc_get_size(&md) / 4
                    observe(
                        o.name,
                        UnsafeBufferPointer(
                            start: self.arena[o.tensor.slot].assumingMemoryBound(to: Float.self), count: count))
                }
            }
        }
    }

    private func run(
        _ input: UnsafeBufferPointer<Float>, _ logits: UnsafeMutableBufferPointer<Float>, timed: Bool,
        afterStep: ((Int) -> Void)? = nil
    ) throws -> [StepTiming] {
        let n = window.voxelCount
        guard input.count == n else { throw InferenceError("window has \(input.count) values, \(window) needs \(n)") }
        guard logits.count == classCount * n else {
            throw InferenceError(
                "logits buffer has \(logits.count) values, \(classCount)×\(window) needs \(classCount * n)")
        }
        lock.lock()
        defer { lock.unlock() }
        // OpenMP's thread count belongs to the calling thread: set it on every call.
        omp_set_num_threads(Int32(threads))
        for (s, a) in inputBindings {
            try check(
                dnnl_memory_set_data_handle(bound[s][a].memory, UnsafeMutableRawPointer(mutating: input.baseAddress!)),
                "bind input")
        }
        for (s, a) in outputBindings {
            try check(dnnl_memory_set_data_handle(bound[s][a].memory, logits.baseAddress!), "bind output")
        }
        var timings: [StepTiming] = []
        let steps = graph.builder.steps
        for (s, step) in steps.enumerated() {
            let start = timed ? DispatchTime.now().uptimeNanoseconds : 0
            try bound[s].withUnsafeBufferPointer {
                try check(
                    dnnl_primitive_execute(step.primitive, context.stream, Int32($0.count), $0.baseAddress),
                    "execute \(step.name)")
            }
            if let afterStep {
                try check(dnnl_stream_wait(context.stream), "stream wait")
                afterStep(s)
            }
            if timed {
                try check(dnnl_stream_wait(context.stream), "stream wait")
                timings.append(
                    StepTiming(
                        name: step.name, kind: step.kind, implementation: step.implementation,
                        multiplyAdds: step.multiplyAdds,
                        seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9))
            }
        }
        try check(dnnl_stream_wait(context.stream), "stream wait")
        return timings
    }
}
