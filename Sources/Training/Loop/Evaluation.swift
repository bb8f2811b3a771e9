import Foundation
import Inference
import ModelSpec
import Volumes

/// Dice per organ of a trained network on prepared phantoms: windows tile the prepared volume
/// (the last one along each axis shifted to end at the edge), the network runs in evaluation
/// mode (running BatchNorm statistics), and the argmax of the full-resolution logits is compared
/// with the labels on the prepared grid.
public enum Evaluation {
    public struct Report: Codable, Sendable {
        public var seeds: [UInt64]
        /// Mean Dice over the volumes that contain the organ, by organ name.
        public var dicePerOrgan: [String: Double]
        /// Mean over the organs of dicePerOrgan.
        public var meanDice: Double
        public var seconds: Double
    }

    public static func dice(stateDict path: String, seeds: [UInt64], configuration: TrainingConfiguration) throws
        -> Report
    {
        let start = Date()
        let ctx = try TrainingContext(threads: configuration.threads)
        let state = try SafeTensors(contentsOf: path)
        let net = TrainableLCOVNet(widths: LCOVNetArchitecture.widths(of: state), pool: ctx.pool)
        try net.load(state, source: path)
        var score = VolumeDice(classCount: net.classCount)
        for seed in seeds {
            let volume = try TrainingVolume.sample(seed: seed, configuration, classCount: net.classCount)
            score.add(predicted: try segment(volume, net, window: configuration.window, ctx), truth: volume.labels)
        }
        var perOrgan: [String: Double] = [:]
        for (c, d) in score.perOrgan {
            perOrgan[OrganClass.word.first { $0.id == c }?.name ?? "class \(c)"] = d
        }
        return Report(
            seeds: seeds, dicePerOrgan: perOrgan, meanDice: score.mean, seconds: Date().timeIntervalSince(start))
    }

    /// Argmax labels on the prepared grid.
    static func segment(_ volume: TrainingVolume, _ net: TrainableLCOVNet, window: [Int], _ ctx: TrainingContext) throws
        -> [UInt8]
    {
        try segment(volume, window: window) { tile in
            let logits = try net.forward(
                Tensor(planar: tile, shape: [1, 1] + window, pool: ctx.pool), ctx, training: false
            ).logits[0]
            let c = logits.channels
            let n = tile.count
            var out = [UInt8](repeating: 0, count: n)
            for v in 0..<n {
                let row = logits.data + v * c
                var best = 0
                for k in 1..<c where row[k] > row[best] { best = k }
                out[v] = UInt8(best)
            }
            return out
        }
    }

    /// Labels on the prepared grid from any predictor of one D×H×W window (C order) to its
    /// labels: windows tile the volume, the last one along each axis shifted to end at the edge;
    /// a volume smaller than the window is padded with its minimum.
    public static func segment(_ volume: TrainingVolume, window: [Int], predict: ([Float]) throws -> [UInt8]) rethrows
        -> [UInt8]
    {
        let size = [volume.size.k, volume.size.j, volume.size.i]  // D, H, W
        func starts(_ n: Int, _ w: Int) -> [Int] {
            if n <= w { return [0] }
            var s = Array(stride(from: 0, to: n - w, by: w))
            s.append(n - w)
            return s
        }
        var out = [UInt8](repeating: 0, count: volume.size.count)
        let (d, h, w) = (window[0], window[1], window[2])
        for z0 in starts(size[0], d) {
            for y0 in starts(size[1], h) {
                for x0 in starts(size[2], w) {
                    var tile = [Float](repeating: volume.minimum, count: d * h * w)
                    for z in 0..<min(d, size[0] - z0) {
                        for y in 0..<min(h, size[1] - y0) {
                            let src = x0 + size[2] * ((y0 + y) + size[1] * (z0 + z))
                            for x in 0..<min(w, size[2] - x0) { tile[(z * h + y) * w + x] = volume.image[src + x] }
                        }
                    }
                    let labels = try predict(tile)
                    for z in 0..<min(d, size[0] - z0) {
                        for y in 0..<min(h, size[1] - y0) {
                            let dst = x0 + size[2] * ((y0 + y) + size[1] * (z0 + z))
                            for x in 0..<min(w, size[2] - x0) { out[dst + x] = labels[(z * h + y) * w + x] }
                        }
                    }
                }
            }
        }
        return out
    }
}

/// Dice per organ over whole volumes: each volume's Dice per organ it contains, averaged per
/// organ over the volumes that contain it; the score is the mean over those organs.
public struct VolumeDice: Sendable {
    let classCount: Int
    var sums: [Double]
    var counts: [Int]

    public init(classCount: Int) {
        self.classCount = classCount
        sums = [Double](repeating: 0, count: classCount)
        counts = [Int](repeating: 0, count: classCount)
    }

    public mutating func add(predicted: [UInt8], truth: [UInt8]) {
        let overlap = LabelOverlap(prediction: predicted, reference: truth, labelCount: classCount)
        for c in 1..<classCount where overlap.reference[c] > 0 {
            sums[c] += overlap.dice(c)!
            counts[c] += 1
        }
    }

    /// Mean Dice by class id, over the volumes containing the class.
    public var perOrgan: [Int: Double] {
        var out: [Int: Double] = [:]
        for c in 1..<classCount where counts[c] > 0 { out[c] = sums[c] / Double(counts[c]) }
        return out
    }

    public var mean: Double {
        let d = perOrgan
        return d.isEmpty ? 0 : d.values.reduce(0, +) / Double(d.count)
    }
}
