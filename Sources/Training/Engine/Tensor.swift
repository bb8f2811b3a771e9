import Foundation

/// An N×C×D×H×W float tensor stored channels-last (N, D, H, W, C); its buffer returns to the
/// pool when the last reference goes.
final class Tensor {
    let shape: [Int]
    let data: UnsafeMutablePointer<Float>
    let count: Int
    private let pool: BufferPool

    init(_ shape: [Int], pool: BufferPool, zeroed: Bool = false) {
        precondition(shape.count == 5)
        self.shape = shape
        count = shape.reduce(1, *)
        self.pool = pool
        data = pool.take(count)
        if zeroed { data.initialize(repeating: 0, count: count) }
    }

    deinit { pool.give(data, count) }

    var batch: Int { shape[0] }
    var channels: Int { shape[1] }
    var spatial: [Int] { Array(shape[2...]) }
    var voxels: Int { shape[2] * shape[3] * shape[4] }
    var raw: UnsafeMutableRawPointer { UnsafeMutableRawPointer(data) }
    var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: data, count: count) }

    func sameShape(_ other: Tensor) -> Bool { shape == other.shape }
}

extension Tensor {
    /// A tensor from N×C×D×H×W values in C order (PyTorch's layout).
    convenience init(planar values: [Float], shape: [Int], pool: BufferPool) {
        self.init(shape, pool: pool)
        precondition(values.count == count)
        let c = shape[1]
        let v = voxels
        for n in 0..<batch {
            for ch in 0..<c {
                let plane = (n * c + ch) * v
                for i in 0..<v { data[(n * v + i) * c + ch] = values[plane + i] }
            }
        }
    }

    /// The values in N×C×D×H×W C order.
    var planar: [Float] {
        let c = channels
        let v = voxels
        var out = [Float](repeating: 0, count: count)
        for n in 0..<batch {
            for ch in 0..<c {
                let plane = (n * c + ch) * v
                for i in 0..<v { out[plane + i] = data[(n * v + i) * c + ch] }
            }
        }
        return out
    }
}
