internal import CDNNL
import Foundation

/// What oneDNN's int8 convolution reaches on a compute-bound shape on this machine: a 1×1×1
/// 256→256 u8×s8 convolution on 8×32×32 voxels (cache-resident), the practical int8 peak that
/// `lcovnet bench` compares LCOV-Net's convolutions against.
public enum PeakProbe {
    /// Multiply-adds per second (best of `repeat` runs).
    public static func int8ConvolutionPeak(threads: Int, repeat count: Int = 20) throws -> Double {
        omp_set_num_threads(Int32(max(1, threads)))
        let context = try DNNLContext()
        let b = GraphBuilder(context: context)
        let spatial = [8, 32, 32]
        let src = try b.newTensor(channels: 256, spatial: spatial, type: dnnl_u8, scale: 1)
        let dst = try b.newTensor(channels: 256, spatial: spatial, type: dnnl_u8, scale: 1)
        var state: UInt32 = 1
        let values: [Float] = (0..<(256 * 256)).map { _ in
            state = state &* 1_664_525 &+ 1_013_904_223
            return Float(Int(state >> 24) - 128) / 128
        }
        let w = GraphBuilder.ConvWeights(
            values: values, bias: [Float](repeating: 0, count: 256), outChannels: 256, inChannels: 256,
            kernel: [1, 1, 1], groups: 1, int8Scales: [Float](repeating: 1.0 / 127, count: 256))
        try b.convolution(
            "peak", src: src, weights: w, dst: dst, postOps: PostOps(),
            outputScales: [Float](repeating: 0.01, count: 256))
        let step = b.steps[0]
        var buffers: [UnsafeMutableRawPointer] = []
        defer { buffers.forEach { $0.deallocate() } }
        var memories: [dnnl_memory_t?] = []
        defer { memories.forEach { dnnl_memory_destroy($0) } }
        var args: [dnnl_exec_arg_t] = []
        for argument in step.arguments {
            var md = argument.md
            let pointer: UnsafeMutableRawPointer
            if case .constant(let p) = argument.source {
                pointer = p
            } else {
                let size = max(dnnl_memory_desc_get_size(&md), 64)
                pointer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 4096)
                memset(pointer, 1, size)
                buffers.append(pointer)
            }
            var memory: dnnl_memory_t?
            try check(dnnl_memory_create(&memory, &md, context.engine, pointer), "probe memory")
            memories.append(memory)
            args.append(dnnl_exec_arg_t(arg: argument.arg, memory: memory))
        }
        var best = Double.infinity
        for _ in 0..<count {
            let start = DispatchTime.now().uptimeNanoseconds
            try check(dnnl_primitive_execute(step.primitive, context.stream, Int32(args.count), &args), "probe")
            try check(dnnl_stream_wait(context.stream), "probe wait")
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return Double(step.multiplyAdds) / best
    }
}
