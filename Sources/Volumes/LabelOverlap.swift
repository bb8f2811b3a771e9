/// Overlap of two label maps on the same grid, per label.
public struct LabelOverlap: Sendable, Equatable {
    /// Voxels with the label in the prediction, in the reference, and in both; index = label.
    public var predicted: [Int]
    public var reference: [Int]
    public var both: [Int]

    /// No voxels yet; `add` accumulates pairs of label maps (e.g. the patches of a validation set).
    public init(labelCount: Int) {
        predicted = [Int](repeating: 0, count: labelCount)
        reference = predicted
        both = predicted
    }

    public init(prediction: [UInt8], reference truth: [UInt8], labelCount: Int) {
        self.init(labelCount: labelCount)
        add(prediction: prediction, reference: truth)
    }

    /// Counts one more pair of label maps into the totals (labels ≥ labelCount are ignored).
    public mutating func add(prediction: [UInt8], reference truth: [UInt8]) {
        precondition(prediction.count == truth.count, "label maps of different sizes")
        let labelCount = predicted.count
        for (p, t) in zip(prediction, truth) {
            if Int(p) < labelCount { predicted[Int(p)] += 1 }
            if Int(t) < labelCount { reference[Int(t)] += 1 }
            if p == t, Int(p) < labelCount { both[Int(p)] += 1 }
        }
    }

    /// Dice of one label, or nil when it is in neither map.
    public func dice(_ label: Int) -> Double? {
        let total = predicted[label] + reference[label]
        return total == 0 ? nil : 2 * Double(both[label]) / Double(total)
    }

    /// Mean Dice over the labels 1... present in the reference (background excluded).
    public var meanForegroundDice: Double? {
        let scores = (1..<reference.count).filter { reference[$0] > 0 }.compactMap { dice($0) }
        return scores.isEmpty ? nil : scores.reduce(0, +) / Double(scores.count)
    }
}
