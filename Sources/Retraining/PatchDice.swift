import Foundation
import Inference
import Volumes

/// Dice of a model against reference labels on cached patches. Per organ, intersections and
/// sizes are summed over all the patches, then Dice is taken; the score is the mean over the
/// organs present in the references (the same patches and references for every model compared).
public struct PatchDice: Sendable {
    var overlap = LabelOverlap(labelCount: 256)

    public init() {}

    public mutating func add(predicted p: [UInt8], reference r: [UInt8]) {
        overlap.add(prediction: p, reference: r)
    }

    /// Dice per organ id present in the references (background excluded).
    public var perOrgan: [Int: Double] {
        var out: [Int: Double] = [:]
        for c in 1..<256 where overlap.reference[c] > 0 { out[c] = overlap.dice(c) }
        return out
    }

    /// Mean over the organs present in the references (0 when none is): LabelOverlap's, summed in
    /// label order rather than in a dictionary's varying order.
    public var mean: Double { overlap.meanForegroundDice ?? 0 }

    /// Argmax labels of a model on one window (D×H×W input, C order).
    public static func predict(_ engine: LCOVNetEngine, image: [Float]) throws -> [UInt8] {
        let n = image.count
        let c = engine.classCount
        var logits = [Float](repeating: 0, count: c * n)
        try image.withUnsafeBufferPointer { x in
            try logits.withUnsafeMutableBufferPointer { try engine.predict(window: x, into: $0) }
        }
        var out = [UInt8](repeating: 0, count: n)
        for v in 0..<n {
            var best = 0
            for k in 1..<c where logits[k * n + v] > logits[best * n + v] { best = k }
            out[v] = UInt8(best)
        }
        return out
    }
}
