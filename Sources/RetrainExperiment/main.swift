// retrain-experiment: the domain-shift experiment of docs/RETRAINING.md, on phantoms.
//
// A stream of phantoms (optionally shifted: contrast phase, noise, habitus, slice spacing) goes
// through what the daemon does after each series — the student segments it, the cache writer
// keeps patches of it — with the phantom's true labels dropped as a person's corrections for a
// share of the series; then one retraining round runs from the cache; then the served model
// before and after the round is scored on held-out phantoms of the same population.
//
// retrain-experiment --model DIR --out DIR [--teacher FILE] [--shift] [--stream N] [--heldout N]
//                    [--corrected PERCENT] [--validation PERCENT] [--steps N] [--batch N] [--learning-rate X] [--threads N]
//                    [--rehearsal FRACTION] [--anchors N] [--patches N]
import Foundation
import Inference
import Logging
import NIfTI
import Phantom
import Retraining
import Segmentation
import Volumes

let arguments = Array(CommandLine.arguments.dropFirst())
func option(_ name: String) -> String? {
    guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count else { return nil }
    return arguments[i + 1]
}
guard let modelPath = option("--model"), let out = option("--out") else {
    FileHandle.standardError.write(
        Data(
            "usage: retrain-experiment --model DIR --out DIR [--teacher FILE] [--shift] [--stream N] [--heldout N] [--corrected PERCENT] [--validation PERCENT] [--steps N] [--batch N] [--learning-rate X] [--threads N] [--rehearsal FRACTION] [--anchors N] [--patches N]\n"
                .utf8))
    exit(2)
}
let shifted = arguments.contains("--shift")
let streamCount = Int(option("--stream") ?? "") ?? 8
let heldoutCount = Int(option("--heldout") ?? "") ?? 6
let correctedPercent = Int(option("--corrected") ?? "") ?? 100
let validationPercent = Int(option("--validation") ?? "") ?? 25
let steps = Int(option("--steps") ?? "") ?? 60
let batch = Int(option("--batch") ?? "") ?? 1
let learningRate = Double(option("--learning-rate") ?? "") ?? 5e-4
let threads = Int(option("--threads") ?? "") ?? 1
let teacher = option("--teacher")
let rehearsal = Double(option("--rehearsal") ?? "") ?? 0.5
let anchors = Int(option("--anchors") ?? "") ?? 2
let patchesPerSeries = Int(option("--patches") ?? "") ?? 4
let window = [32, 64, 64]

LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
let logger = Logger(label: "retrain-experiment")
func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

/// The shifted population: arterial phase, heavy noise, larger bodies, thick slices.
func options(seed: UInt64) -> PhantomOptions {
    shifted
        ? PhantomOptions(seed: seed, matrix: 256, sliceSpacing: 5, phase: .arterial, noiseSigma: 35, habitus: 1.25)
        : PhantomOptions(seed: seed, matrix: 256)
}

let work = "\(out)/work"
try FileManager.default.createDirectory(atPath: "\(work)/corrections", withIntermediateDirectories: true)
let cache = try DistillationCache(path: "\(work)/distillation", boundBytes: 8 << 30)
let store = try ModelStore(path: "\(work)/models")
let started = Date()

func segmenter(_ path: String) throws -> Segmenter {
    Segmenter(model: try ModelDirectory(path: path), options: SegmentationOptions(threads: threads), logger: logger)
}

// 1. The stream, as the daemon sees it.
let student = try segmenter(modelPath)
let writer = SeriesCacheWriter(cache: cache, window: window, patchesPerSeries: patchesPerSeries, threads: threads)
var streamDice: [Double] = []
for n in 0..<streamCount {
    let seed = UInt64(3000 + n)
    let p = PhantomGenerator.generate(options(seed: seed))
    let uid = "2.25.\(seed)\(shifted ? 1 : 0)"
    let result = try student.segment(p.image)
    let dice =
        LabelOverlap(prediction: result.labels.voxels, reference: p.labels.voxels, labelCount: 17).meanForegroundDice
        ?? 0
    streamDice.append(dice)
    let added = try writer.add(
        scan: p.image, studentLabels: result.labels, seriesUID: uid, input: student.model.manifest.input,
        modelVersion: student.model.manifest.modelVersion)
    if Int(StableHashForExperiment.bucket(uid)) < correctedPercent {
        try NIfTIFile.write(p.labels, to: "\(work)/corrections/\(uid).nii.gz")
    }
    say(
        "{\"event\":\"stream\",\"seed\":\(seed),\"student_dice\":\(dice),\"patches\":\(added.patches),\"organs\":\(added.organsCovered),\"cache_bytes\":\(added.cacheBytes),\"seconds\":\(Int(Date().timeIntervalSince(started)))}"
    )
}

// 2. One round, as `lcovnet retrain` runs it.
var settings = RetrainSettings(
    window: window, steps: steps, batch: batch, learningRate: learningRate, validationPercent: validationPercent,
    promoteMargin: 0.01, minimumSeries: 4, threads: threads, teacher: teacher, corrections: "\(work)/corrections")
settings.calibrationWindows = 4
settings.rehearsalFraction = rehearsal
settings.anchorSeeds = RetrainSettings.anchorSeeds(count: anchors)
let roundStart = Date()
let status = try RetrainRound(
    cache: cache, store: store, baseline: modelPath, settings: settings, workPath: "\(work)/retrain", logger: logger
).run()
let roundSeconds = Date().timeIntervalSince(roundStart)
let encoder = JSONEncoder()
encoder.outputFormatting = [.sortedKeys]
say(String(decoding: try encoder.encode(status), as: UTF8.self))

// 3. Held-out phantoms of the same population: the model before the round and the one served after.
let after = try segmenter(store.currentPath()!)
var before: [Double] = []
var served: [Double] = []
for n in 0..<heldoutCount {
    let seed = UInt64(7000 + n)
    let p = PhantomGenerator.generate(options(seed: seed))
    let a =
        LabelOverlap(prediction: try student.segment(p.image).labels.voxels, reference: p.labels.voxels, labelCount: 17)
        .meanForegroundDice ?? 0
    let b =
        status.decision == .promoted
        ? LabelOverlap(prediction: try after.segment(p.image).labels.voxels, reference: p.labels.voxels, labelCount: 17)
            .meanForegroundDice ?? 0 : a
    before.append(a)
    served.append(b)
    say("{\"event\":\"heldout\",\"seed\":\(seed),\"before\":\(a),\"after\":\(b)}")
}
func mean(_ x: [Double]) -> Double { x.isEmpty ? 0 : x.reduce(0, +) / Double(x.count) }
say(
    "{\"event\":\"summary\",\"shifted\":\(shifted),\"stream\":\(streamCount),\"stream_student_dice\":\(mean(streamDice)),\"heldout\":\(heldoutCount),\"heldout_dice_before\":\(mean(before)),\"heldout_dice_after\":\(mean(served)),\"decision\":\"\(status.decision?.rawValue ?? "-")\",\"round_seconds\":\(Int(roundSeconds)),\"total_seconds\":\(Int(Date().timeIntervalSince(started)))}"
)

/// Which stream series get a correction: a hash of the UID, like the validation split.
enum StableHashForExperiment {
    static func bucket(_ uid: String) -> UInt64 {
        var h = StableHash.fnv1a("lcovnet-corrected:\(uid)")
        h = (h ^ (h >> 30)) &* 0xBF58_476D_1CE4_E5B9
        h = (h ^ (h >> 27)) &* 0x94D0_49BB_1331_11EB
        return (h ^ (h >> 31)) % 100
    }
}
