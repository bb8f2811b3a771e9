internal import CDNNL
import Foundation

/// A bf16 copy of an f32 Tensor (same shape, channels-last), the operand of the bf16
/// convolutions; its buffer returns to the pool when the last reference goes.
final class BF16Tensor {
    let shape: [Int]
    let raw: UnsafeMutableRawPointer
    private let floats: Int
    private let storage: UnsafeMutablePointer<Float>
    private let pool: BufferPool

    /// Rounds `x` to bf16 (round to nearest even, by oneDNN's reorder).
    init(converting x: Tensor, _ ctx: TrainingContext) throws {
        shape = x.shape
        pool = ctx.pool
        floats = (x.count + 1) / 2
        storage = pool.take(floats)
        raw = UnsafeMutableRawPointer(storage)
        try ctx.reorder(
            from: try channelsLast(shape), x.raw, to: try channelsLast(shape, dnnl_bf16), raw, key: "to bf16 \(shape)")
    }

    deinit { pool.give(storage, floats) }
}
