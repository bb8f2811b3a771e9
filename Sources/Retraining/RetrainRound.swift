import Foundation
import Inference
import Logging
import Training
import Volumes

/// What a round needs to know (from [retrain] in lcovnet.toml).
public struct RetrainSettings: Sendable {
    public var window: [Int]
    public var steps: Int
    public var batch: Int
    public var learningRate: Double
    public var validationPercent: Int
    public var promoteMargin: Double
    public var minimumSeries: Int
    public var threads: Int
    /// The teacher's state dict, nil for none.
    public var teacher: String?
    public var corrections: String
    public var seed: UInt64 = 1
    /// Cached training inputs the int8 calibration runs on.
    public var calibrationWindows = 4
    /// The share of fine-tuning steps whose batch is drawn from synthetic phantoms with true
    /// labels (rehearsal), so the student does not forget what the cache does not show.
    public var rehearsalFraction = 0.5
    /// The phantoms rehearsal draws from (the default model's training seeds start at 1).
    public var rehearsalSeeds: [UInt64] = Array(1...4)
    /// A labelled dataset rehearsal draws from instead of phantoms (its first rehearsalSeeds.count
    /// training cases), with its label map (nil: its own names); prepared cases are kept under the
    /// round's work folder.
    public var rehearsalDataset: String?
    public var rehearsalLabelMap: [String: String]?
    /// Whole phantoms of the training population (seeds no training run uses) on which the
    /// candidate may not fall more than `anchorTolerance` below the current model; empty: no floor.
    public var anchorSeeds: [UInt64] = RetrainSettings.anchorSeeds(count: 2)
    public var anchorTolerance = 0.01

    /// The anchor phantoms' seeds: 9001 on, a population no training run draws from.
    public static func anchorSeeds(count: Int) -> [UInt64] { (0..<max(0, count)).map { 9001 + UInt64($0) } }
    /// The in-plane matrix of the rehearsal and anchor phantoms (the training phantoms' is 256).
    public var phantomMatrix = 256
    /// Fewer validation series than this and the round is skipped: one series decided a promotion once.
    public var minimumValidationSeries = 2

    public init(
        window: [Int], steps: Int, batch: Int, learningRate: Double, validationPercent: Int, promoteMargin: Double,
        minimumSeries: Int, threads: Int, teacher: String?, corrections: String
    ) {
        self.window = window
        self.steps = steps
        self.batch = batch
        self.learningRate = learningRate
        self.validationPercent = validationPercent
        self.promoteMargin = promoteMargin
        self.minimumSeries = minimumSeries
        self.threads = threads
        self.teacher = teacher
        self.corrections = corrections
    }
}

/// One retraining round: teacher backfill; the split by series UID; the current student's
/// Dice on the validation patches; fine-tuning a copy of it on the training patches with
/// 0.8·Dice(+CE) + 0.2·(CAKD + MSKD) against the teacher's argmax (a correction where a person
/// gave one); int8 calibration on cached inputs; the candidate's Dice on the same validation
/// patches; promotion only when it is better by the margin. The candidate is staged under a
/// hidden name and becomes a version (and `current`) only after that decision, so a kill at any
/// instant leaves the current model serving.
public final class RetrainRound {
    let cache: DistillationCache
    let store: ModelStore
    let baseline: String?
    let settings: RetrainSettings
    let workPath: String
    let logger: Logger
    private var status: RoundStatus

    /// - Parameters:
    ///   - baseline: the model the daemon served before any round (adopted as the first version).
    ///   - workPath: `<work>/retrain`, for the lock and status.json.
    public init(
        cache: DistillationCache, store: ModelStore, baseline: String?, settings: RetrainSettings, workPath: String,
        logger: Logger
    ) {
        self.cache = cache
        self.store = store
        self.baseline = baseline
        self.settings = settings
        self.workPath = workPath
        self.logger = logger
        let now = ModelStore.now()
        status = RoundStatus(round: ModelStore.versionName(), started: now, updated: now, phase: "starting")
    }

    public var statusPath: String { "\(workPath)/status.json" }

    struct Sample {
        var patchID: String
        var seriesUID: String
        /// The hard labels: the correction's, else the teacher's argmax.
        var labels: [UInt8]
        var hasTeacher: Bool
    }

    public func run() throws -> RoundStatus {
        try FileManager.default.createDirectory(atPath: workPath, withIntermediateDirectories: true)
        let lock = try FileLock("\(workPath)/lock", wait: false)
        defer { withExtendedLifetime(lock) {} }
        let clock = Date()
        do {
            try runLocked()
        } catch {
            status.phase = "failed"
            status.decision = .failed
            status.reason = "\(error)"
            logger.error("retraining round failed", metadata: ["stage": "retrain", "error": "\(error)"])
        }
        status.seconds = Date().timeIntervalSince(clock)
        try publish()
        logger.notice(
            "retraining round finished",
            metadata: [
                "stage": "retrain", "decision": "\(status.decision?.rawValue ?? "-")",
                "reason": "\(status.reason ?? "-")",
                "current_dice": "\(status.currentDice.map { String(format: "%.4f", $0) } ?? "-")",
                "candidate_dice": "\(status.candidateDice.map { String(format: "%.4f", $0) } ?? "-")",
                "model.version": "\(store.current() ?? "-")",
                "duration_ms": .stringConvertible(Int(status.seconds! * 1000))
            ])
        return status
    }

    private func publish(_ phase: String? = nil) throws {
        if let phase { status.phase = phase }
        status.updated = ModelStore.now()
        try status.write(statusPath)
    }

    private func finish(_ decision: RoundDecision, _ reason: String) {
        status.phase = decision == .skipped ? "skipped" : "done"
        status.decision = decision
        status.reason = reason
    }

    private func runLocked() throws {
        store.sweepStaging()
        try publish("starting")
        if store.current() == nil {
            guard let baseline else {
                throw CacheError("\(store.path): no current model and no baseline model to start from")
            }
            let version = ModelStore.versionName() + "-baseline"
            try store.adopt(model: baseline, version: version)
            try store.promote(version, reason: "adopted \(baseline) as the first version")
            logger.info("baseline model adopted", metadata: ["stage": "retrain", "model.version": "\(version)"])
        }
        let currentVersion = store.current()!
        status.currentVersion = currentVersion
        let current = try ModelDirectory(path: "\(store.path)/\(currentVersion)")

        if let teacher = settings.teacher {
            try publish("backfill")
            try TeacherBackfill(cache: cache, teacherPath: teacher, threads: settings.threads).run(logger: logger)
        }

        try publish("split")
        let teacherIdentity = try settings.teacher.map(TeacherBackfill.identity(of:))
        let corrections = Corrections(path: settings.corrections)
        var training: [Sample] = []
        var validation: [Sample] = []
        var trainingSeries = Set<String>()
        var validationSeries = Set<String>()
        var corrected = 0
        for series in try cache.manifest().series {
            let correction: [UInt8]?
            do {
                correction = try corrections.preparedLabels(seriesUID: series.seriesUID, record: series.preparation)
            } catch {
                logger.warning(
                    "correction ignored",
                    metadata: ["stage": "retrain", "series.uid": "\(series.seriesUID)", "error": "\(error)"])
                correction = nil
            }
            if correction != nil { corrected += 1 }
            let isValidation = ValidationSplit.isValidation(
                seriesUID: series.seriesUID, percent: settings.validationPercent)
            for entry in series.patches where entry.teacher == teacherIdentity || correction != nil {
                let hasTeacher = teacherIdentity != nil && entry.teacher == teacherIdentity
                let labels: [UInt8]
                if let correction {
                    guard let patch = try? cache.patch(entry.id), patch.header.window == settings.window else {
                        continue
                    }
                    labels = PatchSelection.crop(
                        correction, size: series.preparation.preparedSize, origin: patch.header.origin,
                        window: patch.header.window, fill: UInt8(0))
                } else {
                    guard let t = try cache.teacher(entry.id), t.record.header.window == settings.window else {
                        continue
                    }
                    labels = t.targets.argmax(classCount: LCOVNetArchitecture.classCount)
                }
                let sample = Sample(
                    patchID: entry.id, seriesUID: series.seriesUID, labels: labels, hasTeacher: hasTeacher)
                if isValidation {
                    validation.append(sample)
                    validationSeries.insert(series.seriesUID)
                } else {
                    training.append(sample)
                    trainingSeries.insert(series.seriesUID)
                }
            }
        }
        status.trainingSeries = trainingSeries.count
        status.validationSeries = validationSeries.count
        status.validationPatches = validation.count
        status.correctedSeries = corrected
        status.margin = settings.promoteMargin
        logger.info(
            "retraining split",
            metadata: [
                "stage": "retrain", "training_series": .stringConvertible(trainingSeries.count),
                "validation_series": .stringConvertible(validationSeries.count),
                "corrected_series": .stringConvertible(corrected)
            ])
        guard trainingSeries.count + validationSeries.count >= settings.minimumSeries, !trainingSeries.isEmpty,
            validationSeries.count >= max(1, settings.minimumValidationSeries)
        else {
            finish(
                .skipped,
                "\(trainingSeries.count) training and \(validationSeries.count) validation series with labels; a round needs "
                    + "\(settings.minimumSeries) in all, one for training and \(max(1, settings.minimumValidationSeries)) for validation"
                    + (settings.teacher == nil ? " (no teacher configured)" : ""))
            return
        }

        try publish("phantoms")
        let classCount = LCOVNetArchitecture.classCount
        let rehearsalSeed = settings.seed &+ StableHash.fnv1a(status.round) &+ 1
        var rehearsal: RehearsalWindows?
        if settings.rehearsalFraction > 0, let dataset = settings.rehearsalDataset {
            rehearsal = try RehearsalWindows(
                dataset: dataset, labelMap: settings.rehearsalLabelMap, count: settings.rehearsalSeeds.count,
                cache: "\(workPath)/rehearsal-cases", spec: current.manifest.input, classCount: classCount,
                window: settings.window, seed: rehearsalSeed, threads: settings.threads)
        } else if settings.rehearsalFraction > 0 {
            rehearsal = try RehearsalWindows(
                seeds: settings.rehearsalSeeds, matrix: settings.phantomMatrix, spec: current.manifest.input,
                classCount: classCount, window: settings.window, seed: rehearsalSeed, threads: settings.threads)
        }

        try publish("baseline")
        let precision = current.manifest.precision
        status.currentDice = try dice(of: current, precision: precision, on: validation)

        try publish("fine-tune")
        let network = try PatchNetwork(stateDict: current.weights, source: current.path, threads: settings.threads)
        network.beginFineTuning(
            steps: settings.steps, learningRate: settings.learningRate, warmup: max(1, min(20, settings.steps / 10)))
        var rng = SplitMix64(seed: settings.seed &+ StableHash.fnv1a(status.round))
        let withTeacher = training.filter(\.hasTeacher)
        let without = training.filter { !$0.hasTeacher }
        status.steps = settings.steps
        var rehearsed = 0
        for step in 1...settings.steps {
            var batch: [DistillationSample] = []
            if rehearsal != nil, Double(rng.next() >> 11) / Double(1 << 53) < settings.rehearsalFraction {
                for _ in 0..<settings.batch { batch.append(rehearsal!.next()) }
                rehearsed += 1
            }
            let pool =
                without.isEmpty
                    || (!withTeacher.isEmpty && rng.next() % UInt64(training.count) < UInt64(withTeacher.count))
                ? withTeacher : without
            for _ in 0..<(batch.isEmpty ? settings.batch : 0) {
                let s = pool[Int(rng.next() % UInt64(pool.count))]
                let patch = try cache.patch(s.patchID)
                let teacher = s.hasTeacher ? try cache.teacher(s.patchID)?.targets : nil
                batch.append(DistillationSample(image: patch.image, labels: s.labels, teacher: teacher))
            }
            let terms = try network.fineTune(batch, window: settings.window)
            status.step = step
            if step % 10 == 0 || step == settings.steps {
                try publish()
                logger.info(
                    "retraining step",
                    metadata: [
                        "stage": "fine-tune", "step": .stringConvertible(step),
                        "steps": .stringConvertible(settings.steps),
                        "loss": "\(String(format: "%.4f", terms.loss))",
                        "dice_loss": "\(String(format: "%.4f", terms.dice))",
                        "cakd": "\(String(format: "%.4f", terms.affinity))",
                        "mskd": "\(String(format: "%.4f", terms.featureNorm))",
                        "rehearsal_steps": .stringConvertible(rehearsed)
                    ])
            }
        }

        try publish("quantize")
        let version = ModelStore.versionName()
        status.candidateVersion = version
        let staged = try store.staging(version)
        let fp32 = "\(staged)/.fp32"
        var manifest = current.manifest
        manifest.modelVersion = version
        manifest.precision = .fp32
        manifest.quantization = nil
        manifest.provenance.created = ModelStore.now()
        manifest.provenance.notes.append(
            "retrained by lcovnet retrain from \(currentVersion): \(settings.steps) steps on "
                + "\(trainingSeries.count) cached series (\(withTeacher.count) patches with teacher targets, "
                + "\(corrected) corrected series, \(rehearsed) steps on synthetic phantoms)")
        let weights = try ModelDirectory.canonicalWeights(
            fromStateDict: network.stateDict(), sourceName: "retraining round \(status.round)")
        try ModelDirectory(path: fp32, manifest: manifest, weights: weights).write()
        let calibrationSamples = training.prefix(settings.calibrationWindows)
        let calibration = try calibrationSamples.map { s in
            (
                shape: try WindowShape(d: settings.window[0], h: settings.window[1], w: settings.window[2]),
                values: try cache.patch(s.patchID).image
            )
        }
        var (candidate, _) = try Int8Quantizer.quantize(
            model: try ModelDirectory(path: fp32), windows: calibration,
            sources: calibrationSamples.map(\.patchID), output: staged, threads: settings.threads)
        // Served at the current model's precision; the int8 scales travel with it either way.
        candidate.manifest.precision = precision
        try candidate.write()
        try FileManager.default.removeItem(atPath: fp32)

        try publish("evaluate")
        let stagedModel = try ModelDirectory(path: staged)
        status.candidateDice = try dice(of: stagedModel, precision: precision, on: validation)
        let gain = status.candidateDice! - status.currentDice!
        if gain >= settings.promoteMargin, !settings.anchorSeeds.isEmpty {
            // Generated only for a candidate that may be promoted: most rounds never need them.
            let anchors = AnchorPhantoms(seeds: settings.anchorSeeds, matrix: settings.phantomMatrix)
            let floor = try anchors.dice(of: current, precision: precision, threads: settings.threads, logger: logger)
            status.anchorCurrentDice = floor
            status.anchorCandidateDice = try anchors.dice(
                of: stagedModel, precision: precision, threads: settings.threads, logger: logger)
            if status.anchorCandidateDice! < floor - settings.anchorTolerance {
                try? FileManager.default.removeItem(atPath: staged)
                finish(
                    .keptCurrent,
                    String(
                        format:
                            "mean validation Dice %.4f beats %.4f by %.4f, but on the anchor phantoms the candidate "
                            + "scores %.4f against %.4f (tolerance %.4f)", status.candidateDice!, status.currentDice!,
                        gain,
                        status.anchorCandidateDice!, floor, settings.anchorTolerance))
                return
            }
        }
        if gain >= settings.promoteMargin {
            try store.commit(staged: staged, version: version)
            try store.promote(
                version,
                reason: String(
                    format: "validation Dice %.4f → %.4f (margin %.4f)", status.currentDice!, status.candidateDice!,
                    settings.promoteMargin))
            finish(
                .promoted,
                String(
                    format: "mean validation Dice %.4f beats %.4f by %.4f (margin %.4f)", status.candidateDice!,
                    status.currentDice!, gain, settings.promoteMargin))
        } else {
            try? FileManager.default.removeItem(atPath: staged)
            finish(
                .keptCurrent,
                String(
                    format: "mean validation Dice %.4f vs %.4f: gain %.4f below the margin %.4f", status.candidateDice!,
                    status.currentDice!, gain, settings.promoteMargin))
        }
    }

    private func dice(of model: ModelDirectory, precision: Precision, on samples: [Sample]) throws -> Double {
        let engine = try LCOVNetEngine(
            model: model, precision: precision, threads: settings.threads,
            window: try WindowShape(d: settings.window[0], h: settings.window[1], w: settings.window[2]))
        var score = PatchDice()
        for s in samples {
            score.add(
                predicted: try PatchDice.predict(engine, image: try cache.patch(s.patchID).image), reference: s.labels)
        }
        return score.mean
    }
}
