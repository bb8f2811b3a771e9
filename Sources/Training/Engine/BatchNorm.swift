internal import CDNNL
import Foundation

/// BatchNorm3d (eps 1e-5, momentum 0.1) on oneDNN. Training mode normalises with the batch's
/// statistics and updates the running ones as PyTorch does (unbiased variance); evaluation mode
/// uses the running statistics. With `statisticsFrozen`, training mode normalises with the
/// running statistics and leaves them alone (fine-tuning on a few small patches, whose batch
/// statistics are not those of the scans the model will see), while scale and shift still learn.
final class BatchNorm {
    let key: String
    let channels: Int
    let scale: Parameter
    let shift: Parameter
    let running: RunningStatistics
    static let epsilon: Float = 1e-5
    static let momentum: Float = 0.1
    private var saved: (input: Tensor, mean: [Float], variance: [Float])?
    var statisticsFrozen = false
    /// While set, each training-mode batch enters the running statistics with weight 1/(n+1),
    /// so after n batches they are the plain average of those n ("precise BatchNorm", Wu &
    /// Johnson, arXiv:2105.07576): with one window per batch, momentum 0.1 leaves them the mood
    /// of the last ten windows, and a checkpoint's output swings with it.
    var averaging = false
    private var averaged = 0

    /// Starts a new plain average (the next batch replaces the statistics outright).
    func beginAveraging() {
        averaging = true
        averaged = 0
    }

    init(key: String, channels: Int) {
        self.key = key
        self.channels = channels
        scale = Parameter(key: "\(key).weight", shape: [channels], decays: false, fill: 1)
        shift = Parameter(key: "\(key).bias", shape: [channels], decays: false, fill: 0)
        running = RunningStatistics(key: key, channels: channels)
    }

    var parameters: [Parameter] { [scale, shift] }

    private var flags: UInt32 { dnnl_use_scale.rawValue | dnnl_use_shift.rawValue }

    /// `givenStatistics`: normalise with the mean and variance passed in (evaluation, or training
    /// with statistics computed here); otherwise oneDNN computes them (the backward pass's hint).
    private func forwardPrimitive(_ ctx: TrainingContext, _ shape: [Int], training: Bool, givenStatistics: Bool) throws
        -> Primitive
    {
        try ctx.primitive("bn fwd \(training) \(givenStatistics) \(shape)") {
            var data = try channelsLast(shape)
            var desc = dnnl_batch_normalization_desc_t()
            let f = givenStatistics ? flags | dnnl_use_global_stats.rawValue : flags
            try check(
                dnnl_batch_normalization_forward_desc_init(
                    &desc, training ? dnnl_forward_training : dnnl_forward_inference, &data,
                    Self.epsilon, f), "batchnorm desc \(key)")
            return try ctx.makePrimitive("batchnorm \(key)", desc: &desc)
        }
    }

    /// Per-channel mean and biased variance, two passes with partial sums per block of voxels:
    /// oneDNN 2.6's own fp32 statistics drift by ~1e-5 over a full window, enough to move
    /// ReLU6 decisions away from PyTorch's.
    static func statistics(_ x: Tensor, _ ctx: TrainingContext) -> (mean: [Float], variance: [Float]) {
        let c = x.channels
        let n = x.batch * x.voxels
        let blocks = (n + 1023) / 1024
        var sums = [Double](repeating: 0, count: c * blocks)
        let data = x.data
        func pass(_ center: [Float]?) {
            sums.withUnsafeMutableBufferPointer { out in
                nonisolated(unsafe) let totals = out
                Elementwise.parallel(blocks, threads: blocks > 1 ? ctx.threads : 1) { range in
                    var partial = [Float](repeating: 0, count: c)
                    for b in range {
                        for i in 0..<c { partial[i] = 0 }
                        for v in (b * 1024)..<min(n, b * 1024 + 1024) {
                            let row = data + v * c
                            if let m = center {
                                for i in 0..<c {
                                    let d = row[i] - m[i]
                                    partial[i] += d * d
                                }
                            } else {
                                for i in 0..<c { partial[i] += row[i] }
                            }
                        }
                        for i in 0..<c { totals[b * c + i] = Double(partial[i]) }
                    }
                }
            }
        }
        func reduce() -> [Double] {
            var t = [Double](repeating: 0, count: c)
            for b in 0..<blocks { for i in 0..<c { t[i] += sums[b * c + i] } }
            return t.map { $0 / Double(n) }
        }
        pass(nil)
        let mean = reduce().map { Float($0) }
        pass(mean)
        return (mean, reduce().map { Float($0) })
    }

    func forward(_ x: Tensor, _ ctx: TrainingContext, training: Bool) throws -> Tensor {
        let p = try forwardPrimitive(ctx, x.shape, training: training, givenStatistics: true)
        let md = try channelsLast(x.shape)
        let vec = try plainDesc([channels], dnnl_x)
        let y = Tensor(x.shape, pool: ctx.pool)
        let batchStatistics = training && !statisticsFrozen
        var (mean, variance) = batchStatistics ? Self.statistics(x, ctx) : (running.mean, running.variance)
        try mean.withUnsafeMutableBytes { m in
            try variance.withUnsafeMutableBytes { v in
                try ctx.execute(
                    p,
                    [
                        (Int32(DNNL_ARG_SRC), md, x.raw), (Int32(DNNL_ARG_DST), md, y.raw),
                        (Int32(DNNL_ARG_SCALE), vec, UnsafeMutableRawPointer(scale.value)),
                        (Int32(DNNL_ARG_SHIFT), vec, UnsafeMutableRawPointer(shift.value)),
                        (Int32(DNNL_ARG_MEAN), vec, m.baseAddress!), (Int32(DNNL_ARG_VARIANCE), vec, v.baseAddress!)
                    ])
            }
        }
        if batchStatistics {
            let m = Float(x.batch * x.voxels)
            let unbiased = m > 1 ? m / (m - 1) : 1
            let weight = averaging ? 1 / Float(averaged + 1) : Self.momentum
            if averaging { averaged += 1 }
            for c in 0..<channels {
                running.mean[c] = (1 - weight) * running.mean[c] + weight * mean[c]
                running.variance[c] = (1 - weight) * running.variance[c] + weight * variance[c] * unbiased
            }
            running.batchesTracked += 1
        }
        if training { saved = (x, mean, variance) }
        return y
    }

    func backward(_ g: Tensor, _ ctx: TrainingContext) throws -> Tensor {
        guard var s = saved else { throw TrainingError("\(key): backward without a training forward pass") }
        saved = nil
        let x = s.input
        // Frozen statistics are constants: the backward pass is then the plain per-channel scaling.
        let frozen = statisticsFrozen
        let fwd = try forwardPrimitive(ctx, x.shape, training: true, givenStatistics: frozen)
        let md = try channelsLast(x.shape)
        let vec = try plainDesc([channels], dnnl_x)
        let backwardFlags = frozen ? flags | dnnl_use_global_stats.rawValue : flags
        let p = try ctx.primitive("bn bwd \(frozen) \(x.shape)") {
            var data = md
            var diff = md
            var desc = dnnl_batch_normalization_desc_t()
            try check(
                dnnl_batch_normalization_backward_desc_init(
                    &desc, dnnl_backward, &diff, &data, Self.epsilon, backwardFlags),
                "batchnorm backward desc \(key)")
            return try ctx.makePrimitive("batchnorm backward \(key)", desc: &desc, hint: fwd)
        }
        let dx = Tensor(x.shape, pool: ctx.pool)
        var dScale = [Float](repeating: 0, count: channels)
        var dShift = [Float](repeating: 0, count: channels)
        try s.mean.withUnsafeMutableBytes { m in
            try s.variance.withUnsafeMutableBytes { v in
                try dScale.withUnsafeMutableBytes { ds in
                    try dShift.withUnsafeMutableBytes { dh in
                        // oneDNN 2.6 wants SHIFT as well when the primitive uses one (docs NATIVE-LIBS.md).
                        try ctx.execute(
                            p,
                            [
                                (Int32(DNNL_ARG_SRC), md, x.raw), (Int32(DNNL_ARG_DIFF_DST), md, g.raw),
                                (Int32(DNNL_ARG_MEAN), vec, m.baseAddress!),
                                (Int32(DNNL_ARG_VARIANCE), vec, v.baseAddress!),
                                (Int32(DNNL_ARG_SCALE), vec, UnsafeMutableRawPointer(scale.value)),
                                (Int32(DNNL_ARG_SHIFT), vec, UnsafeMutableRawPointer(shift.value)),
                                (Int32(DNNL_ARG_DIFF_SRC), md, dx.raw),
                                (Int32(DNNL_ARG_DIFF_SCALE), vec, ds.baseAddress!),
                                (Int32(DNNL_ARG_DIFF_SHIFT), vec, dh.baseAddress!)
                            ])
                    }
                }
            }
        }
        for c in 0..<channels {
            scale.gradient[c] += dScale[c]
            shift.gradient[c] += dShift[c]
        }
        return dx
    }
}
