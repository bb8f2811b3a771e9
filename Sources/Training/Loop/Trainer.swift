import Foundation
import Inference
import ModelSpec

/// Trains LCOV-Net (or a wider teacher) on phantoms, optionally distilling from a teacher:
/// batches from the patch sampler, the objective, backward, AdamW; a JSON line per step,
/// checkpoints (state dict in safetensors plus optimizer moments) and resume.
public final class Trainer {
    public let configuration: TrainingConfiguration
    let context: TrainingContext
    let network: TrainableLCOVNet
    let teacher: TrainableLCOVNet?
    var optimizer: AdamOptimizer
    var sampler: PatchSampler
    let pool: PhantomPool
    let objective: Objective
    /// The average of the weights over recent steps, which checkpoints hold (nil: the last step's weights).
    private(set) var average: WeightAverage?
    public let directory: String

    /// - Parameters:
    ///   - directory: where checkpoints, `configuration.json` and `log.jsonl` go; an existing
    ///     checkpoint there is resumed.
    ///   - teacher: a state dict (safetensors, e.g. a teacher run's checkpoint) to distil from.
    public init(
        configuration: TrainingConfiguration, directory: String, teacher teacherPath: String? = nil,
        progress: (String) -> Void = { _ in }
    ) throws {
        self.configuration = configuration
        self.directory = directory
        objective = Objective(
            affinityWeight: configuration.affinityWeight, featureNormWeight: configuration.featureNormWeight)
        _ = try WindowShape(d: configuration.window[0], h: configuration.window[1], w: configuration.window[2])
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        context = try TrainingContext(threads: configuration.threads, bf16: configuration.bf16 ?? false)
        network = TrainableLCOVNet(widths: configuration.widths, pool: context.pool)
        network.initialize(seed: configuration.seed)
        if let teacherPath {
            let state = try SafeTensors(contentsOf: teacherPath)
            let t = TrainableLCOVNet(widths: LCOVNetArchitecture.widths(of: state), pool: context.pool)
            try t.load(state, source: teacherPath)
            teacher = t
        } else {
            teacher = nil
        }
        optimizer = AdamOptimizer(
            totalSteps: configuration.steps, learningRate: configuration.learningRate,
            weightDecay: configuration.weightDecay, warmup: configuration.warmup)
        var augmentation: IntensityAugmentation?
        if configuration.intensityAugmentation == true {
            guard let a = IntensityAugmentation(configuration.input) else {
                throw TrainingError("intensity augmentation needs clip-scale normalization (its ranges are in HU)")
            }
            augmentation = a
        }
        pool = PhantomPool(initial: configuration.phantomSeeds, refresh: configuration.phantomRefresh)
        // A resumed run starts from the pool its checkpoint had reached.
        var volumes: [TrainingVolume] = []
        for seed in pool.seeds(atStep: Self.checkpointStep(in: directory) ?? 0) {
            volumes.append(try Self.phantom(seed, configuration, classCount: network.classCount, progress))
        }
        sampler = PatchSampler(
            volumes: volumes, window: configuration.window, seed: configuration.seed, augmentation: augmentation)
        sampler.caseAugmentation.mirror = configuration.mirrorProbability ?? 0
        let resumed = try resumeIfPresent()
        if !resumed, let initial = configuration.initialWeights {
            let widened = try network.loadInitial(
                SafeTensors(contentsOf: initial), source: initial, seed: configuration.seed)
            progress(
                "{\"event\":\"initialised\",\"from\":\"\(initial)\""
                    + (widened.map { ",\"widenedFrom\":\"\($0.map(String.init).joined(separator: ","))\"" } ?? "") + "}"
            )
        }
        if let decay = configuration.weightAverageDecay {
            // A checkpoint holds the average; the training weights are beside the moments.
            average = WeightAverage(network.parameters, decay: decay)
            if resumed { try restoreTrainingWeights() }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(configuration).write(to: URL(fileURLWithPath: "\(directory)/configuration.json"))
    }

    /// A training phantom, prepared as the configuration says.
    static func phantom(
        _ seed: UInt64, _ configuration: TrainingConfiguration, classCount: Int,
        _ progress: (String) -> Void
    ) throws -> TrainingVolume {
        let v = try TrainingVolume.sample(seed: seed, configuration, classCount: classCount)
        progress(volumeEvent(seed, v, configuration))
        return v
    }

    static func volumeEvent(_ seed: UInt64, _ v: TrainingVolume, _ configuration: TrainingConfiguration) -> String {
        "{\"event\":\"\(configuration.source(ofSeed: seed).eventName)\",\"seed\":\(seed),\"size\":[\(v.size.i),\(v.size.j),\(v.size.k)]}"
    }

    /// The seeds of the pool the next step draws from.
    public var poolSeeds: [UInt64] { pool.seeds(atStep: optimizer.step) }

    /// The step of the checkpoint in a run folder, if there is one (without loading the run).
    public static func checkpointStep(in directory: String) -> Int? {
        guard FileManager.default.fileExists(atPath: "\(directory)/checkpoint.safetensors"),
            let state = try? SafeTensors(contentsOf: "\(directory)/optimizer.safetensors")
        else { return nil }
        return state.metadata["step"].flatMap { Int($0) }
    }

    var checkpointPath: String { "\(directory)/checkpoint.safetensors" }
    var optimizerPath: String { "\(directory)/optimizer.safetensors" }
    public var logPath: String { "\(directory)/log.jsonl" }
    public var step: Int { optimizer.step }

    /// Multiply-adds of one training step: forward, backward-data and backward-weights of the
    /// student (3× its forward) plus the teacher's forward, per window, times the batch.
    public var multiplyAddsPerStep: Int {
        let v = configuration.window.reduce(1, *)
        return configuration.batch * (3 * network.multiplyAdds(voxels: v) + (teacher?.multiplyAdds(voxels: v) ?? 0))
    }

    public var parameterCount: Int { network.parameters.reduce(0) { $0 + $1.count } }

    /// Whether a checkpoint was there to resume.
    private func resumeIfPresent() throws -> Bool {
        guard FileManager.default.fileExists(atPath: checkpointPath),
            FileManager.default.fileExists(atPath: optimizerPath)
        else { return false }
        try network.load(SafeTensors(contentsOf: checkpointPath), source: checkpointPath)
        let state = try SafeTensors(contentsOf: optimizerPath)
        for p in network.parameters {
            guard let m = state.tensors["\(p.key).adam_m"], let v = state.tensors["\(p.key).adam_v"] else {
                throw TrainingError("\(optimizerPath): no moments for \(p.key)")
            }
            let mv = try m.floats()
            let vv = try v.floats()
            guard mv.count == p.count, vv.count == p.count else {
                throw TrainingError("\(optimizerPath): \(p.key) has the wrong size")
            }
            mv.withUnsafeBufferPointer { p.firstMoment.update(from: $0.baseAddress!, count: p.count) }
            vv.withUnsafeBufferPointer { p.secondMoment.update(from: $0.baseAddress!, count: p.count) }
        }
        optimizer.step = Int(state.metadata["step"] ?? "0") ?? 0
        try truncateLog(after: optimizer.step)
        // The sampler continues from a seed derived from the step, so a resumed run is reproducible.
        sampler.rng = SplitMix(seed: configuration.seed &+ UInt64(optimizer.step) &* 7919)
        return true
    }

    /// The training weights a checkpoint of an averaging run keeps beside the moments (a run
    /// from before averaging has none: training goes on from the checkpoint's weights).
    private func restoreTrainingWeights() throws {
        let state = try SafeTensors(contentsOf: optimizerPath)
        for p in network.parameters {
            guard let t = state.tensors["\(p.key).training"] else { continue }
            let values = try t.floats()
            guard values.count == p.count else {
                throw TrainingError("\(optimizerPath): \(p.key).training has the wrong size")
            }
            p.values = values
        }
    }

    /// Drops the log records of steps after the checkpoint (a run stopped between two checkpoints
    /// logged steps it will now take again), so that the log holds each step once.
    private func truncateLog(after step: Int) throws {
        guard let text = try? String(contentsOfFile: logPath, encoding: .utf8) else { return }
        struct Step: Decodable { var step: Int }
        let kept = text.split(separator: "\n").filter { line in
            (try? JSONDecoder().decode(Step.self, from: Data(line.utf8)))?.step ?? 0 <= step
        }
        let temporary = logPath + ".tmp"
        try Data(kept.map { $0 + "\n" }.joined().utf8).write(to: URL(fileURLWithPath: temporary))
        guard rename(temporary, logPath) == 0 else {
            throw TrainingError("\(logPath): cannot replace it (errno \(errno))")
        }
    }

    /// Writes the state dict and the optimizer state (atomically, each).
    public func saveCheckpoint() throws {
        try trainedStateDict().write(to: checkpointPath)
        var tensors: [String: SafeTensors.Tensor] = [:]
        for p in network.parameters {
            tensors["\(p.key).adam_m"] = SafeTensors.Tensor(
                shape: p.shape, values: Array(UnsafeBufferPointer(start: p.firstMoment, count: p.count)))
            tensors["\(p.key).adam_v"] = SafeTensors.Tensor(
                shape: p.shape, values: Array(UnsafeBufferPointer(start: p.secondMoment, count: p.count)))
            if average != nil { tensors["\(p.key).training"] = SafeTensors.Tensor(shape: p.shape, values: p.values) }
        }
        try SafeTensors(tensors: tensors, metadata: ["step": "\(optimizer.step)"]).write(to: optimizerPath)
    }

    /// What the run has learnt so far: the averaged weights if the run averages, and BatchNorm
    /// statistics measured under those weights if the run measures them.
    func trainedStateDict() throws -> SafeTensors {
        func measured() throws -> SafeTensors {
            if let n = configuration.statisticsWindows, n > 0 { try averageStatistics(windows: n) }
            return network.stateDict()
        }
        return try average.map { try $0.withAverageInNetwork(measured) } ?? measured()
    }

    /// BatchNorm statistics averaged over n windows drawn as training draws them (from a copy
    /// of the sampler seeded by the step, so training's own sequence is unchanged).
    func averageStatistics(windows n: Int) throws {
        var draw = sampler
        draw.rng = SplitMix(seed: configuration.seed &+ UInt64(optimizer.step) &* 104_729 &+ 17)
        let (d, h, w) = (configuration.window[0], configuration.window[1], configuration.window[2])
        try network.averageBatchNormStatistics(over: n, context) {
            Tensor(planar: draw.next().image, shape: [1, 1, d, h, w], pool: context.pool)
        }
    }

    public struct StepRecord: Codable, Sendable {
        public var step: Int
        public var loss: Double
        public var dice: Double
        public var crossEntropy: Double
        public var affinity: Double
        public var featureNorm: Double
        public var learningRate: Double
        public var seconds: Double
        public var multiplyAddsPerSecond: Double
        public var peakRSSMiB: Double
    }

    /// One optimisation step on a fresh batch.
    public func trainStep() throws -> StepRecord {
        let start = DispatchTime.now().uptimeNanoseconds
        let (d, h, w) = (configuration.window[0], configuration.window[1], configuration.window[2])
        var images: [Float] = []
        var labels: [[UInt8]] = []
        var unlabelled: [[Bool]?] = []
        for _ in 0..<configuration.batch {
            let p = sampler.next()
            images += p.image
            labels.append(p.labels)
            unlabelled.append(p.unlabelled)
        }
        let x = Tensor(planar: images, shape: [configuration.batch, 1, d, h, w], pool: context.pool)
        let teacherOut = try teacher?.forward(x, context, training: false)
        let out = try network.forward(x, context, training: true)
        let (terms, gLogits, gFeatures) = objective.evaluate(
            student: out, teacher: teacherOut, labels: labels, unlabelled: unlabelled,
            window: configuration.window, context)
        try network.backward(logits: gLogits, features: gFeatures, context)
        let rate = optimizer.rate(at: optimizer.step)
        optimizer.apply(network.parameters)
        average?.update()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let record = StepRecord(
            step: optimizer.step, loss: terms.total, dice: terms.dice, crossEntropy: terms.crossEntropy,
            affinity: terms.affinity, featureNorm: terms.featureNorm, learningRate: rate, seconds: seconds,
            multiplyAddsPerSecond: Double(multiplyAddsPerStep) / seconds, peakRSSMiB: Self.peakRSSMiB())
        guard terms.total.isFinite else {
            throw TrainingError("step \(optimizer.step): the loss is not finite (\(terms.total))")
        }
        return record
    }

    /// Runs until `configuration.steps`, appending one JSON line per step to log.jsonl and
    /// passing it to `progress`; checkpoints every `checkpointEvery` steps and at the end.
    /// - Parameter prefetch: make each refresh's volume ahead, on a thread of its own, when the
    ///   machine has a core beyond the run's threads (the same volumes either way).
    public func run(prefetch: Bool = true, progress: (String) -> Void = { _ in }) throws {
        // A file that cannot be created makes the FileHandle below throw, naming the path.
        if !FileManager.default.fileExists(atPath: logPath) {
            _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        defer { try? log.close() }
        log.seekToEndOfFile()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var upcoming: VolumePrefetch?
        while optimizer.step < configuration.steps {
            if prefetch, upcoming == nil, VolumePrefetch.worthwhile(threads: configuration.threads),
                let next = pool.nextReplacement(afterStep: optimizer.step),
                next.step < configuration.steps
            {
                let (configuration, classCount) = (configuration, network.classCount)
                upcoming = VolumePrefetch(seed: next.seed) {
                    try TrainingVolume.sample(seed: next.seed, configuration, classCount: classCount)
                }
            }
            let record = try trainStep()
            var line = String(decoding: try encoder.encode(record), as: UTF8.self)
            line += "\n"
            log.write(Data(line.utf8))
            progress(String(line.dropLast()))
            if optimizer.step % configuration.checkpointEvery == 0 || optimizer.step == configuration.steps {
                try saveCheckpoint()
            }
            if optimizer.step < configuration.steps, let (slot, seed) = pool.replacement(afterStep: optimizer.step) {
                if let prefetched = upcoming, prefetched.seed == seed {
                    sampler.volumes[slot] = try prefetched.value()
                    progress(Self.volumeEvent(seed, sampler.volumes[slot], configuration))
                } else {
                    sampler.volumes[slot] = try Self.phantom(
                        seed, configuration, classCount: network.classCount, progress)
                }
                upcoming = nil
            }
        }
    }

    /// The student as a model directory (manifest + fp32 safetensors) that `model info`, the
    /// Inference engine and `segment` read.
    public func exportModel(to path: String, version: String, notes: [String]) throws {
        try Self.exportModel(
            stateDict: trainedStateDict(), configuration: configuration, source: checkpointPath,
            to: path, version: version, notes: notes)
    }

    /// A trained student's state dict as a model directory, with the input preparation and
    /// window of the run that trained it (`window` overrides the inference window).
    public static func exportModel(
        stateDict: SafeTensors, configuration: TrainingConfiguration, source: String, to path: String,
        version: String, window: [Int]? = nil, notes: [String]
    ) throws {
        let weights = try ModelDirectory.canonicalWeights(fromStateDict: stateDict, sourceName: source)
        let now = ISO8601DateFormatter().string(from: Date())
        let manifest = ModelManifest(
            modelVersion: version, classes: OrganClass.word, input: configuration.input,
            window: window ?? configuration.window, precision: .fp32,
            provenance: .init(
                source: "lcovnet train (\((source as NSString).lastPathComponent))", sourceSHA256: nil,
                created: now, notes: notes))
        try ModelDirectory(path: path, manifest: manifest, weights: weights).write()
    }

    static func peakRSSMiB() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) / 1024
    }
}
