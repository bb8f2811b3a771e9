import Foundation

/// A trainable tensor under its state-dict name, with its gradient and Adam's moments; plain
/// PyTorch layout (C order), so checkpoints need no reordering.
public final class Parameter: @unchecked Sendable {
    // @unchecked: owned by one network, touched by the training thread only.
    public let key: String
    public let shape: [Int]
    public let count: Int
    /// False for BatchNorm scales and shifts and for biases: no weight decay on them.
    public let decays: Bool
    let value: UnsafeMutablePointer<Float>
    let gradient: UnsafeMutablePointer<Float>
    let firstMoment: UnsafeMutablePointer<Float>
    let secondMoment: UnsafeMutablePointer<Float>

    init(key: String, shape: [Int], decays: Bool, fill: Float = 0) {
        self.key = key
        self.shape = shape
        self.decays = decays
        let n = shape.reduce(1, *)
        count = n
        func make() -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1))
            p.initialize(repeating: 0, count: max(n, 1))
            return p
        }
        value = make()
        gradient = make()
        firstMoment = make()
        secondMoment = make()
        value.update(repeating: fill, count: count)
    }

    deinit { for p in [value, gradient, firstMoment, secondMoment] { p.deallocate() } }

    public var values: [Float] {
        get { Array(UnsafeBufferPointer(start: value, count: count)) }
        set {
            precondition(newValue.count == count, "\(key): \(newValue.count) values for \(count)")
            newValue.withUnsafeBufferPointer { value.update(from: $0.baseAddress!, count: count) }
        }
    }

    public var gradients: [Float] { Array(UnsafeBufferPointer(start: gradient, count: count)) }

    func zeroGradient() { gradient.update(repeating: 0, count: count) }
}

/// Running statistics of a BatchNorm (buffers, not trained by the optimizer).
public final class RunningStatistics: @unchecked Sendable {
    public let key: String
    public var mean: [Float]
    public var variance: [Float]
    public var batchesTracked: Int64 = 0

    init(key: String, channels: Int) {
        self.key = key
        mean = [Float](repeating: 0, count: channels)
        variance = [Float](repeating: 1, count: channels)
    }
}
