import Foundation
import Inference
import Logging
import Preprocess
import SlidingWindows
import Volumes

/// What to do with a scan, besides the model's own recipe.
public struct SegmentationOptions: Sendable {
    public var precision: Precision?
    public var threads: Int
    /// Working memory for preparation, inference and merging, in MiB (the scan itself aside).
    public var memoryBudgetMiB: Int
    public var overlap: Double
    /// Keep only the largest connected component of each organ.
    public var largestComponentPerOrgan: Bool
    /// A fixed network window instead of the one chosen within the budget (comparisons that
    /// must tile two runs alike, e.g. int8 against fp32).
    public var window: WindowShape?
    /// Return the prepared scan with the labels on its grid too (the distillation cache's
    /// patches), so that no one prepares the scan a second time.
    public var keepsPrepared = false

    /// Working memory when none is given (`segment`, `evaluate`, the experiments): a full window
    /// of the shipped model fits in int8 and fp32 on typical scans.
    public static let defaultMemoryBudgetMiB = 512

    public init(
        precision: Precision? = nil, threads: Int = ProcessInfo.processInfo.activeProcessorCount,
        memoryBudgetMiB: Int = defaultMemoryBudgetMiB, overlap: Double = 0.5, largestComponentPerOrgan: Bool = true
    ) {
        self.precision = precision
        self.threads = max(1, threads)
        self.memoryBudgetMiB = memoryBudgetMiB
        self.overlap = overlap
        self.largestComponentPerOrgan = largestComponentPerOrgan
    }
}

/// Stages of one segmentation, for progress lines and timings.
public enum SegmentationStage: String, Sendable, CaseIterable, Codable {
    case load, prepare, infer, write
}

/// Labels on the scan's own grid, and how they were made.
public struct SegmentationResult: Sendable {
    public var labels: Volume<UInt8>
    public var preparation: PreparationRecord
    public var window: WindowShape
    public var windowCount: Int
    public var precision: Precision
    /// Seconds per stage (those this step ran).
    public var seconds: [SegmentationStage: Double]
    /// The scan as the network saw it, with the labels on that grid (`keepsPrepared`).
    public var prepared: PreparedScan?

    public init(
        labels: Volume<UInt8>, preparation: PreparationRecord, window: WindowShape, windowCount: Int,
        precision: Precision,
        seconds: [SegmentationStage: Double], prepared: PreparedScan? = nil
    ) {
        self.prepared = prepared
        self.labels = labels
        self.preparation = preparation
        self.window = window
        self.windowCount = windowCount
        self.precision = precision
        self.seconds = seconds
    }
}

/// Loads a model once and segments many scans. The engine (the window's activations) is built
/// per scan, for the window its length allows, and freed before the labels are finished.
public final class Segmenter {
    public let model: ModelDirectory
    public let options: SegmentationOptions
    private let logger: Logger

    public init(model: ModelDirectory, options: SegmentationOptions, logger: Logger) {
        self.model = model
        self.options = options
        self.logger = logger
    }

    public var precision: Precision { options.precision ?? model.manifest.precision }

    /// Prepares the scan, runs the network over sliding windows and maps the scores back onto
    /// the scan's grid slab by slab as the merger finalizes them.
    /// - Parameter progress: (stage, fraction done in 0...1).
    public func segment(_ scan: Volume<Int16>, progress: (SegmentationStage, Double) -> Void = { _, _ in }) throws
        -> SegmentationResult
    {
        var seconds: [SegmentationStage: Double] = [:]
        let clock = ContinuousClock()
        var start = clock.now
        func lap(_ stage: SegmentationStage) {
            seconds[stage] = (clock.now - start).inSeconds
            start = clock.now
        }

        try checkMemoryBudget(scan.geometry)
        progress(.prepare, 0)
        let prepared = try Preparation.prepare(scan, as: model.manifest.input, threads: options.threads)
        lap(.prepare)
        progress(.prepare, 1)

        let classCount = model.manifest.classes.count
        let size = prepared.volume.size
        let window =
            try options.window
            ?? WindowChoice.window(
                model: model.manifest.window, prepared: size, classCount: classCount, precision: precision,
                fp32Layers: model.manifest.quantization?.fp32Layers ?? [],
                widths: LCOVNetArchitecture.widths(of: model.weights),
                budgetBytes: options.memoryBudgetMiB << 20,
                heldBytes: WindowChoice.heldBytes(scan: scan.size, prepared: size, keepsPrepared: options.keepsPrepared)
            )
        var engine: LCOVNetEngine? = try LCOVNetEngine(
            model: model, precision: options.precision, threads: options.threads, window: window)
        let plan = WindowPlan(
            volumeSize: size, windowSize: window.extent, overlap: options.overlap)
        logger.debug(
            "windows planned",
            metadata: ["window": "\(window)", "windows": "\(plan.origins.count)", "prepared": "\(size)"])
        if options.window == nil {
            // A window smaller than the model's costs accuracy (measured: fp32 at 512 MiB on
            // phantom 22, mean Dice 0.837 against 0.861 on the full window), so say so.
            let full = try WindowChoice.fitted(model: model.manifest.window, prepared: size)
            if window != full {
                logger.warning(
                    "window shrunk to fit the memory budget; accuracy may drop",
                    metadata: [
                        "window": "\(window)", "model_window": "\(full)",
                        "memory_budget_mib": "\(options.memoryBudgetMiB)",
                        "precision": "\(precision.rawValue)",
                        "hint": "raise the memory budget, or use the int8 model (a third of fp32's activations)"
                    ])
            }
        }
        // Beyond the volume's edges the windows see the lowest prepared value, as in training.
        let padding = prepared.record.normalization.minimum
        let labeler = SourceGridLabeler(
            record: prepared.record, classCount: classCount, threads: options.threads,
            keepsPreparedLabels: options.keepsPrepared)
        try SlidingWindowInference(plan: plan).run(
            source: VolumeWindowSource(volume: prepared.volume, padding: padding),
            predictor: EnginePredictor(engine: engine!),
            progress: { done, all in progress(.infer, Double(done) / Double(all)) }
        ) { slab in try labeler.add(slab) }
        // The activations go before the largest-component pass, which needs room of its own.
        engine = nil
        var pieces = [Int](repeating: 1, count: classCount)
        var lowest = [Bool](repeating: false, count: classCount)
        for c in model.manifest.classes where c.id < classCount {
            pieces[c.id] = c.pieces ?? 1
            lowest[c.id] = c.lowestPieces ?? false
        }
        let labels = try labeler.finish(
            largestComponentPerOrgan: options.largestComponentPerOrgan, pieces: pieces, lowest: lowest)
        lap(.infer)
        let kept = try labeler.preparedLabels.map {
            try PreparedScan(image: prepared.volume.voxels, labels: $0, record: prepared.record)
        }
        return SegmentationResult(
            labels: labels, preparation: prepared.record, window: window, windowCount: plan.origins.count,
            precision: precision, seconds: seconds, prepared: kept)
    }

    /// What segmenting a scan on `geometry` needs at least (MiB): the labels on its grid, the
    /// prepared volume before the body crop (an upper bound: the crop needs the voxels) and the
    /// smallest window's working memory. The process's fixed reserve is left out: this is the
    /// floor no window choice can go below, not an estimate of the peak.
    public func leastMemoryMiB(for geometry: Geometry) throws -> Int {
        let size = try Preparation.uncroppedSize(of: geometry, as: model.manifest.input)
        try Plausibility.checkVoxelCount([size.i, size.j, size.k], path: "the prepared grid")
        let window = try WindowChoice.smallestWindowBytes(
            model: model.manifest.window, prepared: size, classCount: model.manifest.classes.count,
            precision: precision, fp32Layers: model.manifest.quantization?.fp32Layers ?? [],
            widths: LCOVNetArchitecture.widths(of: model.weights))
        let held = WindowChoice.heldBytes(scan: geometry.size, prepared: size) - WindowChoice.reserveBytes
        return (held + window + (1 << 20) - 1) >> 20
    }

    /// Refuses, before anything is allocated for it, a scan whose segmentation cannot keep the
    /// budget: running it anyway would take the memory the budget promised to the rest of the host.
    func checkMemoryBudget(_ geometry: Geometry) throws {
        let need = try leastMemoryMiB(for: geometry)
        guard need <= options.memoryBudgetMiB else {
            throw PlausibilityError(
                .overMemoryBudget, path: "the scan",
                detail:
                    "\(geometry.size) voxels need at least \(need) MiB; the budget is \(options.memoryBudgetMiB) MiB")
        }
    }
}
