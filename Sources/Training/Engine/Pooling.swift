internal import CDNNL
import Foundation

/// Max pooling (k 2, stride 2) and average pooling with padding counted (k 4, stride 2, pad 1),
/// forward-training and backward on oneDNN. Max pooling keeps oneDNN's workspace (the argmax).
final class Pooling {
    let average: Bool
    let kernel: Int, stride: Int, padding: Int
    private var saved: (shape: [Int], workspace: UnsafeMutablePointer<Float>?, floats: Int)?
    private let pool: BufferPool

    static func maxDown(_ pool: BufferPool) -> Pooling {
        Pooling(average: false, kernel: 2, stride: 2, padding: 0, pool)
    }
    static func attentionAverage(_ pool: BufferPool) -> Pooling {
        Pooling(average: true, kernel: 4, stride: 2, padding: 1, pool)
    }

    init(average: Bool, kernel: Int, stride: Int, padding: Int, _ pool: BufferPool) {
        self.average = average
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        self.pool = pool
    }

    deinit { release() }

    private func release() {
        if let s = saved, let w = s.workspace { pool.give(w, s.floats) }
        saved = nil
    }

    private var algorithm: dnnl_alg_kind_t { average ? dnnl_pooling_avg_include_padding : dnnl_pooling_max }
    private var signature: String { "\(average ? "avg" : "max") k\(kernel) s\(stride) p\(padding)" }

    private func outputShape(_ s: [Int]) -> [Int] {
        [s[0], s[1]] + s[2...].map { ($0 + 2 * padding - kernel) / stride + 1 }
    }

    private func forwardPrimitive(_ ctx: TrainingContext, _ shape: [Int], training: Bool) throws -> Primitive {
        try ctx.primitive("pool fwd \(training) \(signature) \(shape)") {
            var src = try channelsLast(shape)
            var dst = try channelsLast(outputShape(shape))
            let p = [Int64](repeating: Int64(padding), count: 3)
            var desc = dnnl_pooling_desc_t()
            try check(
                dnnl_pooling_forward_desc_init(
                    &desc, training ? dnnl_forward_training : dnnl_forward_inference, algorithm, &src, &dst,
                    [Int64](repeating: Int64(stride), count: 3), [Int64](repeating: Int64(kernel), count: 3), p, p),
                "pooling desc")
            return try ctx.makePrimitive("pooling \(signature)", desc: &desc)
        }
    }

    func forward(_ x: Tensor, _ ctx: TrainingContext, training: Bool) throws -> Tensor {
        release()
        let p = try forwardPrimitive(ctx, x.shape, training: training)
        let y = Tensor(outputShape(x.shape), pool: ctx.pool)
        var args: [(Int32, dnnl_memory_desc_t, UnsafeMutableRawPointer)] = [
            (Int32(DNNL_ARG_SRC), try channelsLast(x.shape), x.raw),
            (Int32(DNNL_ARG_DST), try channelsLast(y.shape), y.raw)
        ]
        var workspace: UnsafeMutablePointer<Float>?
        let wsMD = p.md(dnnl_query_workspace_md)
        let floats = (byteSize(wsMD) + 3) / 4
        if training && floats > 0 {
            workspace = ctx.pool.take(floats)
            args.append((Int32(DNNL_ARG_WORKSPACE), wsMD, UnsafeMutableRawPointer(workspace!)))
        }
        try ctx.execute(p, args)
        if training { saved = (x.shape, workspace, floats) }
        return y
    }

    func backward(_ g: Tensor, _ ctx: TrainingContext) throws -> Tensor {
        guard let s = saved else { throw TrainingError("pooling: backward without a training forward pass") }
        let fwd = try forwardPrimitive(ctx, s.shape, training: true)
        let srcMD = try channelsLast(s.shape)
        let dstMD = try channelsLast(g.shape)
        let p = try ctx.primitive("pool bwd \(signature) \(s.shape)") {
            var src = srcMD
            var dst = dstMD
            let pad = [Int64](repeating: Int64(padding), count: 3)
            var desc = dnnl_pooling_desc_t()
            try check(
                dnnl_pooling_backward_desc_init(
                    &desc, algorithm, &src, &dst, [Int64](repeating: Int64(stride), count: 3),
                    [Int64](repeating: Int64(kernel), count: 3), pad, pad), "pooling backward desc")
            return try ctx.makePrimitive("pooling backward \(signature)", desc: &desc, hint: fwd)
        }
        let dx = Tensor(s.shape, pool: ctx.pool)
        var args: [(Int32, dnnl_memory_desc_t, UnsafeMutableRawPointer)] = [
            (Int32(DNNL_ARG_DIFF_DST), dstMD, g.raw), (Int32(DNNL_ARG_DIFF_SRC), srcMD, dx.raw)
        ]
        if let w = s.workspace {
            args.append((Int32(DNNL_ARG_WORKSPACE), fwd.md(dnnl_query_workspace_md), UnsafeMutableRawPointer(w)))
        }
        try ctx.execute(p, args)
        release()
        return dx
    }
}

/// Trilinear ×2 upsampling with half-pixel centres (PyTorch's align_corners=False) and its
/// backward (the transposed interpolation), on oneDNN.
enum Upsampling {
    private static func primitives(_ ctx: TrainingContext, _ shape: [Int]) throws -> (Primitive, Primitive) {
        let out = [shape[0], shape[1]] + shape[2...].map { $0 * 2 }
        let srcMD = try channelsLast(shape)
        let dstMD = try channelsLast(out)
        let factors: [Float] = [2, 2, 2]
        let fwd = try ctx.primitive("resample fwd \(shape)") {
            var src = srcMD
            var dst = dstMD
            var desc = dnnl_resampling_desc_t()
            try check(
                dnnl_resampling_forward_desc_init(
                    &desc, dnnl_forward_training, dnnl_resampling_linear, factors, &src, &dst), "resampling desc")
            return try ctx.makePrimitive("resampling", desc: &desc)
        }
        let bwd = try ctx.primitive("resample bwd \(shape)") {
            var src = srcMD
            var dst = dstMD
            var desc = dnnl_resampling_desc_t()
            try check(
                dnnl_resampling_backward_desc_init(&desc, dnnl_resampling_linear, factors, &src, &dst),
                "resampling backward desc")
            return try ctx.makePrimitive("resampling backward", desc: &desc, hint: fwd)
        }
        return (fwd, bwd)
    }

    static func forward(_ x: Tensor, _ ctx: TrainingContext) throws -> Tensor {
        let (fwd, _) = try primitives(ctx, x.shape)
        let y = Tensor([x.batch, x.channels] + x.spatial.map { $0 * 2 }, pool: ctx.pool)
        try ctx.execute(
            fwd,
            [
                (Int32(DNNL_ARG_SRC), try channelsLast(x.shape), x.raw),
                (Int32(DNNL_ARG_DST), try channelsLast(y.shape), y.raw)
            ])
        return y
    }

    /// The transposed interpolation, one axis at a time (trilinear weights are a product of
    /// per-axis weights). oneDNN 2.6's resampling backward took 7× its forward time here (a
    /// sixth of a training step); three memory-bound passes over channels-last rows do not.
    static func backward(_ g: Tensor, _ ctx: TrainingContext) throws -> Tensor {
        let (n, c) = (g.batch, g.channels)
        let (d, h, w) = (g.spatial[0] / 2, g.spatial[1] / 2, g.spatial[2] / 2)
        let alongW = Tensor([n, c, 2 * d, 2 * h, w], pool: ctx.pool)
        halve(g.data, into: alongW.data, outer: n * 2 * d * 2 * h, length: w, inner: c, threads: ctx.threads)
        let alongH = Tensor([n, c, 2 * d, h, w], pool: ctx.pool)
        halve(alongW.data, into: alongH.data, outer: n * 2 * d, length: h, inner: w * c, threads: ctx.threads)
        let dx = Tensor([n, c, d, h, w], pool: ctx.pool)
        halve(alongH.data, into: dx.data, outer: n, length: d, inner: h * w * c, threads: ctx.threads)
        return dx
    }

    /// The transpose of ×2 linear upsampling (half-pixel centres, edges clamped) along one axis:
    /// `src` is [outer][2·length][inner], `dst` [outer][length][inner]. Forward, y[2i] =
    /// ¾x[i] + ¼x[max(i−1, 0)] and y[2i+1] = ¾x[i] + ¼x[min(i+1, length−1)].
    static func halve(
        _ src: UnsafeMutablePointer<Float>, into dst: UnsafeMutablePointer<Float>,
        outer: Int, length: Int, inner: Int, threads: Int
    ) {
        let rows = outer * length
        let chunks = rows * inner < 1 << 16 ? 1 : min(max(1, threads), rows)
        let step = (rows + chunks - 1) / chunks
        // Each chunk writes its own rows of dst.
        nonisolated(unsafe) let src = src
        nonisolated(unsafe) let dst = dst
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            for row in (chunk * step)..<min(rows, (chunk + 1) * step) {
                let (o, i) = row.quotientAndRemainder(dividingBy: length)
                let base = src + o * 2 * length * inner
                let even = base + 2 * i * inner
                let odd = even + inner
                let next = i + 1 < length ? odd + inner : odd  // y[2i+2] holds ¼x[i]; at the edge y[2i+1] does
                let previous = i > 0 ? even - inner : even  // y[2i−1] holds ¼x[i]; at the edge y[0] does
                let out = dst + row * inner
                for k in 0..<inner {
                    out[k] = 0.75 * (even[k] + odd[k]) + 0.25 * (next[k] + previous[k])
                }
            }
        }
    }
}
