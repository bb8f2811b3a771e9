import ArgumentParser
import Datasets
import Foundation
import Inference
import ModelSpec
import Training

/// Options shared by `train` and `distill`.
struct TrainingOptions: ParsableArguments {
    @Option(
        name: .shortAndLong,
        help: "Run folder: configuration.json, log.jsonl, checkpoints; an existing checkpoint there is resumed.")
    var output: String
    @Option(help: "Optimisation steps in total.") var steps: Int = 1000
    @Option(help: "Window D×H×W (each a multiple of 16, at least 32), e.g. 32x96x96.") var window: String = "32x96x96"
    @Option(help: "Windows per batch.") var batch: Int = 2
    @Option(help: "Peak learning rate (AdamW, warm-up then cosine decay).") var learningRate: Double = 2e-3
    @Option(help: "Decoupled weight decay.") var weightDecay: Double = 1e-4
    @Option(help: "Seed of initialisation and sampling.") var seed: UInt64 = 1
    @Option(help: "Training phantom seeds, as FIRST-LAST.") var phantoms: String = "1-16"
    @Option(help: "Phantom in-plane matrix.") var matrix: Int = 256
    @Option(
        help:
            "Folder of WORD label maps: train on CT synthesized on them (seeds below 1000 use the training maps) instead of phantoms."
    )
    var anatomies: String?
    @Option(
        help:
            "With --anatomies or --dataset: every seed divisible by N is a phantom instead, so the model keeps the phantom population (0: none)."
    )
    var phantomEvery: Int = 0
    @Option(
        help:
            "With --anatomies: share (0-1) of synthesized CTs whose soft tissues take random HU, SynthSeg's randomized contrast (default 0.25)."
    )
    var randomContrastShare: Double?
    @Option(
        help:
            "A labelled CT dataset (nnU-Net raw, MSD, WORD's folders, a CSV of image,label, or DICOM folders X/ with X.nii.gz beside them): seeds stand for its training cases (docs/TRAINING.md)."
    )
    var dataset: String?
    @Option(
        help:
            "With --dataset: btcv, amos, flare22, word, or a JSON file of label value → organ name or id (default: dataset.json's names, else WORD's ids). Organs left out are partial labels: merged into background in the loss, never taught as background."
    )
    var labelMap: String?
    @Option(help: "With --dataset: share of the cases held out for validation, chosen by a hash of the case id.")
    var validationFraction: Double = LabelledDataset.defaultValidationFraction
    @Option(
        help:
            "With --dataset: probability of mirroring a case's patch left to right, left and right organs swapped, as nnU-Net does (0.5); off by default, since a mirrored abdomen has its liver on the left."
    )
    var mirrorProbability: Double = 0
    @Option(
        help:
            "With --dataset and --anatomies: every seed divisible by N is a CT synthesized on the anatomies instead of a dataset case."
    )
    var synthesizedEvery: Int = 0
    @Option(
        help:
            "With --dataset: folder of the prepared cases, reused by every run with the same preparation (default: OUTPUT/prepared-cases)."
    )
    var preparedCache: String?
    @Option(
        help:
            "Seeds, as FIRST-LAST, that replace the pool's phantoms one at a time during the run (more anatomy in the same memory)."
    )
    var refreshPhantoms: String?
    @Option(help: "With --refresh-phantoms: replace one phantom of the pool after every N steps.") var refreshEvery:
        Int = 25
    @Option(help: "oneDNN threads.") var threads: Int = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Checkpoint every N steps.") var checkpointEvery: Int = 100
    @Flag(
        help:
            "Convolutions on bf16 operands with f32 accumulation (needs AVX512-BF16 or AMX to be fast); weights, optimizer and other operations stay f32."
    )
    var bf16 = false
    @Flag(
        inversion: .prefixedNo,
        help:
            "Make each refreshed training volume ahead on a thread of its own when the machine has a core beyond --threads (the same volumes either way)."
    )
    var prefetch = true
    @Flag(
        help:
            "Blur, noise, contrast and brightness drawn per window, so the network relies on neither a scanner's texture nor its smoothness (needs clip-scale input)."
    )
    var augmentIntensities = false
    @Option(
        help:
            "Before each checkpoint, set BatchNorm's running statistics to the average over this many training windows (0: keep the momentum average of the last few)."
    )
    var statisticsWindows: Int = 32
    @Option(
        help:
            "Checkpoints hold the moving average of the weights with this decay per step, e.g. 0.999 (0: the last step's weights). With one window per batch the last step carries that window's noise."
    )
    var averageWeights: Double = 0
    @Option(help: "Write the trained student as a model directory here at the end.") var exportModel: String?
    @Option(help: "Held-out phantom seeds to report Dice on at the end, as FIRST-LAST (e.g. 1001-1010).") var evaluate:
        String?
    @Option(
        help:
            "Also write these phantoms, prepared as the model wants them, as D×H×W .npy files into OUTPUT/prepared (FIRST-LAST; int8 calibration input)."
    )
    var writePrepared: String?
    @Option(
        help:
            "Start from this state dict (a checkpoint or a model's weights.safetensors) when OUTPUT has no checkpoint: fine-tuning with a fresh schedule."
    )
    var initialWeights: String?

    func configuration(widths: [Int]? = nil) throws -> TrainingConfiguration {
        var c = TrainingConfiguration()
        guard let w = WindowShape.dimensions(window) else {
            throw ValidationError("--window must be DxHxW, e.g. 32x96x96")
        }
        c.window = w
        c.steps = steps
        c.batch = batch
        c.learningRate = learningRate
        c.weightDecay = weightDecay
        c.seed = seed
        c.phantomSeeds = try Self.range(phantoms)
        c.phantomMatrix = matrix
        c.anatomies = anatomies
        if let share = randomContrastShare {
            guard (0...1).contains(share), anatomies != nil else {
                throw ValidationError("--random-contrast-share needs --anatomies and a share in [0, 1]")
            }
            c.randomContrastShare = share
        }
        guard phantomEvery >= 0 else { throw ValidationError("--phantom-every must be 0 or more") }
        c.phantomEvery = phantomEvery > 0 ? phantomEvery : nil
        if let dataset {
            c.dataset = dataset
            c.datasetLabelMap = try labelMap.map(LabelledDataset.labelMap(named:))
            guard validationFraction >= 0, validationFraction < 1 else {
                throw ValidationError("--validation-fraction must be in [0, 1)")
            }
            c.validationFraction = validationFraction
            guard synthesizedEvery >= 0, synthesizedEvery == 0 || anatomies != nil else {
                throw ValidationError("--synthesized-every needs --anatomies (the label maps to synthesize on)")
            }
            c.synthesizedEvery = synthesizedEvery > 0 ? synthesizedEvery : nil
            c.preparedCache = preparedCache ?? "\(output)/prepared-cases"
            guard (0...1).contains(mirrorProbability) else {
                throw ValidationError("--mirror-probability must be in [0, 1]")
            }
            c.mirrorProbability = mirrorProbability > 0 ? mirrorProbability : nil
            // Read once here, so that a dataset without pairs fails before any training.
            let data = try LabelledDataset(path: dataset, classes: OrganClass.word, labelMap: c.datasetLabelMap)
            let training = data.cases(validation: false, fraction: validationFraction)
            // A SEG case labels the organs its segments name; a label map file, those of the map.
            let mapped = Set(data.labelMap.values)
            let unlabelled =
                data.cases.contains { $0.labels.lowercased().hasSuffix(".dcm") }
                ? "\"per case (DICOM SEG)\""
                : "["
                    + OrganClass.word.filter { $0.id > 0 && !mapped.contains($0.id) }.map { "\"\($0.name)\"" }.joined(
                        separator: ",") + "]"
            print(
                "{\"event\":\"dataset\",\"layout\":\"\(data.layout)\",\"cases\":\(data.cases.count),\"training\":\(training.count),"
                    + "\"unlabelled\":\(unlabelled)}")
        } else if labelMap != nil || synthesizedEvery > 0 || preparedCache != nil || mirrorProbability > 0 {
            throw ValidationError(
                "--label-map, --synthesized-every, --prepared-cache and --mirror-probability need --dataset")
        }
        if let refreshPhantoms {
            guard refreshEvery > 0 else { throw ValidationError("--refresh-every must be positive") }
            c.phantomRefresh = PhantomRefresh(every: refreshEvery, seeds: try Self.range(refreshPhantoms))
        }
        // Seeds from 1000 on are the held-out evaluation phantoms.
        if let seed = (c.phantomSeeds + (c.phantomRefresh?.seeds ?? [])).first(where: { $0 >= 1000 }) {
            throw ValidationError("phantom seed \(seed) is a held-out seed (1000 and above are never trained on)")
        }
        c.threads = threads
        c.bf16 = bf16 ? true : nil
        c.intensityAugmentation = augmentIntensities ? true : nil
        guard statisticsWindows >= 0 else { throw ValidationError("--statistics-windows must be 0 or more") }
        c.statisticsWindows = statisticsWindows > 0 ? statisticsWindows : nil
        guard averageWeights >= 0, averageWeights < 1 else {
            throw ValidationError("--average-weights must be in [0, 1)")
        }
        c.weightAverageDecay = averageWeights > 0 ? averageWeights : nil
        c.checkpointEvery = checkpointEvery
        if let widths { c.widths = widths }
        c.initialWeights = initialWeights
        return c
    }

    static func range(_ text: String) throws -> [UInt64] {
        let parts = text.split(separator: "-").compactMap { UInt64($0) }
        guard parts.count == 2, parts[0] <= parts[1] else {
            throw ValidationError("seed range \(text): expected FIRST-LAST")
        }
        return Array(parts[0]...parts[1])
    }

    func run(_ configuration: TrainingConfiguration, teacher: String?) throws {
        if let writePrepared {
            let folder = "\(output)/prepared"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            for seed in try Self.range(writePrepared) {
                let v = try TrainingVolume.sample(seed: seed, configuration, classCount: 17)
                let name = "\(configuration.source(ofSeed: seed).rawValue)-\(seed).npy"
                try v.image.withUnsafeBufferPointer {
                    try NPYFile.write("\(folder)/\(name)", shape: [v.size.k, v.size.j, v.size.i], values: $0)
                }
                print("{\"event\":\"prepared\",\"seed\":\(seed)}")
            }
        }
        if let evaluate, let done = Trainer.checkpointStep(in: output), done >= configuration.steps {
            // A finished run: evaluate it without preparing the training phantoms again.
            try report(evaluate, configuration)
            return
        }
        let trainer = try Trainer(configuration: configuration, directory: output, teacher: teacher) { print($0) }
        print(
            "{\"event\":\"start\",\"parameters\":\(trainer.parameterCount),\"multiply_adds_per_step\":\(trainer.multiplyAddsPerStep),\"step\":\(trainer.step)}"
        )
        let start = Date()
        try trainer.run(prefetch: prefetch) { print($0) }
        try trainer.saveCheckpoint()
        print("{\"event\":\"trained\",\"steps\":\(trainer.step),\"seconds\":\(Int(Date().timeIntervalSince(start)))}")
        if let exportModel {
            try trainer.exportModel(
                to: exportModel, version: ISO8601DateFormatter().string(from: Date()).prefix(10).description,
                notes: [
                    "\(configuration.dataDescription), \(configuration.steps) steps, window \(window), batch \(batch)"
                        + (teacher.map { ", distilled from \($0)" } ?? "")
                ])
            print("{\"event\":\"exported\",\"model\":\"\(exportModel)\"}")
        }
        if let evaluate { try report(evaluate, configuration) }
    }

    /// Dice of the run's checkpoint on held-out phantoms, into OUTPUT/evaluation.json.
    private func report(_ seeds: String, _ configuration: TrainingConfiguration) throws {
        let report = try Evaluation.dice(
            stateDict: "\(output)/checkpoint.safetensors", seeds: try Self.range(seeds), configuration: configuration)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(report)
        try data.write(to: URL(fileURLWithPath: "\(output)/evaluation.json"))
        print(String(decoding: data, as: UTF8.self))
    }
}

/// `lcovnet train`: supervised training on phantoms (the student, or a wider teacher).
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train LCOV-Net (or a wider teacher with --widths) on synthetic phantoms, on oneDNN.",
        discussion:
            "Deep-supervised Dice + cross-entropy, AdamW with warm-up and cosine decay. One JSON line per step on stdout and in OUTPUT/log.jsonl; checkpoints in OUTPUT (state dict in safetensors, the reference's key names), resumed when present."
    )

    @OptionGroup var options: TrainingOptions
    @Option(
        help: "Widths of the five levels, e.g. 48,96,192,384,384 for a teacher (default LCOV-Net's 32,64,128,256,256).")
    var widths: String?

    func run() throws {
        let w = widths.map { $0.split(separator: ",").compactMap { Int($0) } }
        if let w, w.count != 5 { throw ValidationError("--widths needs five numbers") }
        try options.run(try options.configuration(widths: w), teacher: nil)
    }
}

/// `lcovnet distill`: train the student against labels and a teacher (CAKD + MSKD).
struct DistillCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "distill",
        abstract: "Distil a trained teacher into LCOV-Net on phantoms (CAKD + MSKD, docs LCOVNET.md).",
        discussion:
            "L = 0.8·L_seg + 0.2·Σ_s w_s (0.1·CAKD_s + 0.2·MSKD_s), w = (0.4, 0.2, 0.2, 0.2) full resolution first.")

    @OptionGroup var options: TrainingOptions
    @Option(help: "Teacher state dict (a `train` run's checkpoint.safetensors).") var teacher: String
    @Option(help: "Weight of CAKD inside the distillation term (LCOVNET.md: 0.1; 0 leaves it out).") var affinityWeight:
        Double = 0.1
    @Option(help: "Weight of MSKD inside the distillation term (LCOVNET.md: 0.2; 0 leaves it out).")
    var featureNormWeight: Double = 0.2

    func run() throws {
        var c = try options.configuration()
        c.affinityWeight = affinityWeight
        c.featureNormWeight = featureNormWeight
        try options.run(c, teacher: teacher)
    }
}
