import Foundation
import Inference
import Logging
import ModelSpec
import Phantom
import Segmentation
import Volumes

/// How well a model segments labelled scans it never trained on (phantoms, or CT synthesized on
/// held-out real label maps) through the product's own path (preparation, sliding windows, the
/// engine in the chosen precision, labels mapped back onto the scan's grid), scored against the
/// scans' labels on that grid. With two precisions it also scores one against the other (the
/// int8-vs-fp32 agreement the quantizer must keep).
public struct PhantomEvaluation: Codable, Sendable {
    public struct Case: Codable, Sendable {
        public var seed: UInt64
        /// What the scan was built on, when not a phantom (the label map's name).
        public var anatomy: String?
        /// Dice per organ name, for organs in the phantom (by precision).
        public var dice: [String: [String: Double]]
        /// Mean of `dice` over the organs in the phantom (by precision).
        public var meanDice: [String: Double]
        /// Dice of the second precision's labels against the first's, per organ either one holds.
        public var agreement: [String: Double]?
        public var meanAgreement: Double?
        /// Share of voxels with the same label in both precisions.
        public var voxelAgreement: Double?
        public var secondsPerScan: [String: Double]
        /// The network window D×H×W each precision ran on (the second takes the first's choice).
        public var windows: [String: [Int]]?
    }

    public var model: String
    public var precisions: [String]
    public var overlap: Double
    public var memoryBudgetMiB: Int
    /// The phantom knobs, for phantoms; nil for synthesized scans.
    public var phantom: PhantomOptions?
    /// Where the scans came from: "phantoms" or the label maps' folder.
    public var source: String
    public var cases: [Case]
    /// Mean over cases of each organ's Dice, by precision then organ (cases without the organ skipped).
    public var dicePerOrgan: [String: [String: Double]]
    /// Mean over cases of the per-case mean Dice, by precision.
    public var meanDice: [String: Double]
    public var meanAgreement: Double?
    public var minimumAgreement: Double?

    /// - Parameters:
    ///   - template: phantom knobs; its seed is replaced by each of `seeds`.
    ///   - precisions: one or two; with two, the second is scored against the first as well, and
    ///     runs on the window the first chose: otherwise the budget may give fp32 a smaller window
    ///     than int8 (its activations are 3× larger), and the comparison would measure the
    ///     tiling, not the precision (measured: agreement 0.974 → 0.993 on phantoms 21-22).
    ///   - options: threads, budget and overlap; the precision is taken from `precisions`.
    public static func run(
        model: ModelDirectory, seeds: [UInt64], template: PhantomOptions, precisions: [Precision],
        options: SegmentationOptions, logger: Logger, progress: (String) -> Void = { _ in }
    ) throws -> PhantomEvaluation {
        var evaluation = try run(
            model: model, seeds: seeds, source: "phantoms", precisions: precisions, options: options, logger: logger,
            progress: progress
        ) { seed in
            var phantomOptions = template
            phantomOptions.seed = seed
            let phantom = PhantomGenerator.generate(phantomOptions)
            return LabelledScan(image: phantom.image, labels: phantom.labels)
        }
        evaluation.phantom = template
        return evaluation
    }

    /// A scan with its reference labels on the same grid.
    public struct LabelledScan: Sendable {
        public var image: Volume<Int16>
        public var labels: Volume<UInt8>
        public var anatomy: String?
        public init(image: Volume<Int16>, labels: Volume<UInt8>, anatomy: String? = nil) {
            self.image = image
            self.labels = labels
            self.anatomy = anatomy
        }
    }

    /// The same over scans that `scan` makes for each seed (e.g. synthesized on held-out maps).
    public static func run(
        model: ModelDirectory, seeds: [UInt64], source: String, precisions: [Precision], options: SegmentationOptions,
        logger: Logger, progress: (String) -> Void = { _ in },
        scan: (UInt64) throws -> LabelledScan
    ) throws -> PhantomEvaluation {
        precondition((1...2).contains(precisions.count), "one or two precisions")
        let classes = model.manifest.classes
        var cases: [Case] = []
        for seed in seeds {
            let phantom = try scan(seed)
            var labels: [[UInt8]] = []
            var item = Case(seed: seed, anatomy: phantom.anatomy, dice: [:], meanDice: [:], secondsPerScan: [:])
            for precision in precisions {
                var chosen = options
                chosen.precision = precision
                if chosen.window == nil, let w = item.windows?[precisions[0].rawValue] {
                    chosen.window = try WindowShape(d: w[0], h: w[1], w: w[2])
                }
                let start = ContinuousClock.now
                let result = try Segmenter(model: model, options: chosen, logger: logger).segment(phantom.image)
                item.windows = (item.windows ?? [:]).merging([
                    precision.rawValue: [result.window.d, result.window.h, result.window.w]
                ]) { $1 }
                item.secondsPerScan[precision.rawValue] = (ContinuousClock.now - start).inSeconds
                let overlap = LabelOverlap(
                    prediction: result.labels.voxels, reference: phantom.labels.voxels, labelCount: classes.count)
                var perOrgan: [String: Double] = [:]
                for organ in classes.dropFirst() where overlap.reference[organ.id] > 0 {
                    perOrgan[organ.name] = overlap.dice(organ.id)
                }
                item.dice[precision.rawValue] = perOrgan
                item.meanDice[precision.rawValue] = overlap.meanForegroundDice
                labels.append(result.labels.voxels)
            }
            if labels.count == 2 {
                let overlap = LabelOverlap(prediction: labels[1], reference: labels[0], labelCount: classes.count)
                var agreement: [String: Double] = [:]
                for organ in classes.dropFirst() { agreement[organ.name] = overlap.dice(organ.id) }
                item.agreement = agreement
                let scores = Array(agreement.values)
                item.meanAgreement = scores.isEmpty ? 1 : scores.reduce(0, +) / Double(scores.count)
                item.voxelAgreement = Double(overlap.both.reduce(0, +)) / Double(max(1, labels[0].count))
            }
            progress(
                "seed \(seed)\(phantom.anatomy.map { " (\($0))" } ?? ""): "
                    + precisions.map {
                        String(format: "%@ mean Dice %.3f", $0.rawValue, item.meanDice[$0.rawValue] ?? 0)
                    }
                    .joined(separator: ", ") + (item.meanAgreement.map { String(format: ", agreement %.4f", $0) } ?? "")
                    + (item.windows?[precisions[0].rawValue].map {
                        ", window " + $0.map(String.init).joined(separator: "×")
                    } ?? ""))
            cases.append(item)
        }
        var dicePerOrgan: [String: [String: Double]] = [:]
        var meanDice: [String: Double] = [:]
        for precision in precisions.map(\.rawValue) {
            var sums: [String: (Double, Int)] = [:]
            for item in cases {
                for (organ, d) in item.dice[precision] ?? [:] {
                    sums[organ, default: (0, 0)].0 += d
                    sums[organ, default: (0, 0)].1 += 1
                }
            }
            dicePerOrgan[precision] = sums.mapValues { $0.0 / Double($0.1) }
            let means = cases.compactMap { $0.meanDice[precision] }
            meanDice[precision] = means.isEmpty ? nil : means.reduce(0, +) / Double(means.count)
        }
        let agreements = cases.compactMap(\.meanAgreement)
        return PhantomEvaluation(
            model: model.manifest.modelVersion, precisions: precisions.map(\.rawValue), overlap: options.overlap,
            memoryBudgetMiB: options.memoryBudgetMiB, phantom: nil, source: source, cases: cases,
            dicePerOrgan: dicePerOrgan, meanDice: meanDice,
            meanAgreement: agreements.isEmpty ? nil : agreements.reduce(0, +) / Double(agreements.count),
            minimumAgreement: agreements.min())
    }
}
