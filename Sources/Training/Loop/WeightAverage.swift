import Foundation

/// An exponential moving average of the trained parameters (Polyak averaging). With one window
/// per batch the weights of any single step carry that window's noise; the average over the last
/// ~1/(1 − decay) steps is what a checkpoint should hold.
final class WeightAverage {
    let decay: Float
    private let parameters: [Parameter]
    private var averages: [[Float]]

    /// Starts at the parameters' current values.
    init(_ parameters: [Parameter], decay: Double) {
        precondition(decay > 0 && decay < 1, "decay \(decay) is not in (0, 1)")
        self.decay = Float(decay)
        self.parameters = parameters
        averages = parameters.map(\.values)
    }

    /// Folds the parameters' present values in (after each optimizer step).
    func update() {
        let d = decay
        let e = 1 - decay
        for (index, p) in parameters.enumerated() {
            let w = p.value
            averages[index].withUnsafeMutableBufferPointer { a in
                for i in 0..<p.count { a[i] = d * a[i] + e * w[i] }
            }
        }
    }

    /// The training values, by parameter key (kept aside while the average is in the network).
    var trainingValues: [String: [Float]] {
        Dictionary(uniqueKeysWithValues: parameters.map { ($0.key, $0.values) })
    }

    /// Runs `body` with the averaged values in the network, then puts the training values back.
    func withAverageInNetwork<T>(_ body: () throws -> T) rethrows -> T {
        let training = parameters.map(\.values)
        for (index, p) in parameters.enumerated() { p.values = averages[index] }
        defer { for (index, p) in parameters.enumerated() { p.values = training[index] } }
        return try body()
    }
}
