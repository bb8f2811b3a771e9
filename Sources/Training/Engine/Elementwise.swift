import Foundation

/// Elementwise operations on tensors of one shape, split over the context's threads. Plain Swift:
/// they are memory-bound, and the compiler vectorises these loops.
enum Elementwise {
    /// Runs `body(range)` over [0, count) in a few contiguous chunks.
    static func parallel(_ count: Int, threads: Int, _ body: (Range<Int>) -> Void) {
        let chunks = count < 1 << 16 ? 1 : max(1, threads)
        if chunks == 1 {
            body(0..<count)
            return
        }
        let step = (count + chunks - 1) / chunks
        withoutActuallyEscaping(body) { escaping in
            // Each chunk writes a disjoint range; the closure never outlives this call.
            nonisolated(unsafe) let run = escaping
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                let lo = c * step
                let hi = min(count, lo + step)
                if lo < hi { run(lo..<hi) }
            }
        }
    }

    /// y = min(max(x, 0), 6)
    static func relu6(_ x: Tensor, _ ctx: TrainingContext) -> Tensor {
        let y = Tensor(x.shape, pool: ctx.pool)
        let s = x.data
        let d = y.data
        parallel(x.count, threads: ctx.threads) { r in for i in r { d[i] = min(max(s[i], 0), 6) } }
        return y
    }

    /// dx = g where 0 < x < 6 (PyTorch's hardtanh backward), else 0.
    static func relu6Backward(_ g: Tensor, input x: Tensor, _ ctx: TrainingContext) -> Tensor {
        let dx = Tensor(x.shape, pool: ctx.pool)
        let s = x.data
        let gd = g.data
        let d = dx.data
        // Branch-free so that the loop vectorises.
        parallel(x.count, threads: ctx.threads) { r in
            for i in r {
                let inside: Float = (s[i] > 0 ? 1 : 0) * (s[i] < 6 ? 1 : 0)
                d[i] = gd[i] * inside
            }
        }
        return dx
    }

    static func sigmoid(_ x: Tensor, _ ctx: TrainingContext) -> Tensor {
        let y = Tensor(x.shape, pool: ctx.pool)
        let s = x.data
        let d = y.data
        parallel(x.count, threads: ctx.threads) { r in for i in r { d[i] = 1 / (1 + expf(-s[i])) } }
        return y
    }

    /// The LACB gate and its backward in one pass: out = x1 + s ⊙ x.
    static func gate(_ x1: Tensor, _ s: Tensor, _ x: Tensor, _ ctx: TrainingContext) -> Tensor {
        let y = Tensor(x.shape, pool: ctx.pool)
        let a = x1.data
        let b = s.data
        let c = x.data
        let d = y.data
        parallel(x.count, threads: ctx.threads) { r in for i in r { d[i] = a[i] + b[i] * c[i] } }
        return y
    }

    /// For out = x1 + σ(a) ⊙ x: returns (dL/da, dL/dx through the gate); dL/dx1 is g itself.
    static func gateBackward(_ g: Tensor, sigmoid s: Tensor, x: Tensor, _ ctx: TrainingContext) -> (
        da: Tensor, dx: Tensor
    ) {
        let da = Tensor(x.shape, pool: ctx.pool)
        let dx = Tensor(x.shape, pool: ctx.pool)
        let gd = g.data
        let sd = s.data
        let xd = x.data
        let ad = da.data
        let xo = dx.data
        parallel(x.count, threads: ctx.threads) { r in
            for i in r {
                let sv = sd[i]
                ad[i] = gd[i] * xd[i] * sv * (1 - sv)
                xo[i] = gd[i] * sv
            }
        }
        return (da, dx)
    }

    /// target += source
    static func accumulate(_ target: Tensor, _ source: Tensor, _ ctx: TrainingContext) {
        precondition(target.count == source.count)
        let t = target.data
        let s = source.data
        parallel(target.count, threads: ctx.threads) { r in for i in r { t[i] += s[i] } }
    }

    /// Channel concatenation [a, b] of channels-last tensors with equal N, D, H, W.
    static func concat(_ a: Tensor, _ b: Tensor, _ ctx: TrainingContext) -> Tensor {
        let ca = a.channels
        let cb = b.channels
        let c = ca + cb
        let y = Tensor([a.batch, c] + a.spatial, pool: ctx.pool)
        let n = a.batch * a.voxels
        let ad = a.data
        let bd = b.data
        let d = y.data
        parallel(n, threads: ctx.threads) { r in
            for v in r {
                (d + v * c).update(from: ad + v * ca, count: ca)
                (d + v * c + ca).update(from: bd + v * cb, count: cb)
            }
        }
        return y
    }

    /// The gradient of a concatenation, split back into its two parts.
    static func split(_ g: Tensor, first ca: Int, _ ctx: TrainingContext) -> (Tensor, Tensor) {
        let c = g.channels
        let cb = c - ca
        let a = Tensor([g.batch, ca] + g.spatial, pool: ctx.pool)
        let b = Tensor([g.batch, cb] + g.spatial, pool: ctx.pool)
        let n = g.batch * g.voxels
        let gd = g.data
        let ad = a.data
        let bd = b.data
        parallel(n, threads: ctx.threads) { r in
            for v in r {
                (ad + v * ca).update(from: gd + v * c, count: ca)
                (bd + v * cb).update(from: gd + v * c + ca, count: cb)
            }
        }
        return (a, b)
    }
}
