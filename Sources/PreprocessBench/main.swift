// Time and peak memory of each preparation and export step on a synthetic scan of
// 512 × 512 × N voxels (0.78 × 0.78 × 1 mm): `swift run -c release preprocess-bench N [threads]`.
// Peak memory is measured per step as the rise of the resident high-water mark (reset through
// /proc/self/clear_refs before each step) above the resident size when the step starts.
import Export
import Foundation
import ModelSpec
import Preprocess
import Volumes

let arguments = CommandLine.arguments
let slices = arguments.count > 1 ? Int(arguments[1])! : 300
let threads = arguments.count > 2 ? Int(arguments[2])! : ProcessInfo.processInfo.activeProcessorCount

func memoryKiB(_ key: String) -> Int {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    for line in status.split(separator: "\n") where line.hasPrefix(key + ":") {
        return Int(line.split(separator: " ").dropFirst().first.map(String.init) ?? "0") ?? 0
    }
    return 0
}

let inputMiB = Double(512 * 512 * slices * 2) / 1_048_576
print("scan 512×512×\(slices) Int16 = \(String(format: "%.0f", inputMiB)) MiB, \(threads) threads")
print("| step | wall s | CPU s (all threads) | peak above start (MiB) | × scan bytes |")
print("|---|---:|---:|---:|---:|")

func cpuSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

@discardableResult
func step<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
    try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
    let before = memoryKiB("VmRSS")
    let start = ContinuousClock.now
    let cpuStart = cpuSeconds()
    let result = try body()
    let cpu = cpuSeconds() - cpuStart
    let seconds = (ContinuousClock.now - start).inSeconds
    let peak = Double(memoryKiB("VmHWM") - before) / 1024
    print(
        "| \(name) | \(String(format: "%.3f", seconds)) | \(String(format: "%.3f", cpu)) | \(String(format: "%.0f", peak)) | \(String(format: "%.2f", peak / inputMiB)) |"
    )
    return result
}

// An abdomen: body ellipse with organ ellipsoids, centred in a LAS grid.
let direction = Matrix3(columns: [1, 0, 0], [0, -1, 0], [0, 0, 1])
let size = Extent3(512, 512, slices)
let spacing = SIMD3<Double>(0.78, 0.78, 1)
let half = SIMD3<Double>(255.5, 255.5, Double(slices - 1) / 2)
let geometry = Geometry(
    size: size, spacing: spacing, origin: SIMD3<Double>.zero - direction * (spacing * half), direction: direction)
let organs: [(UInt8, SIMD3<Double>, SIMD3<Double>)] = [
    (1, [-45, 0, 20], [75, 65, 70]), (2, [75, 25, 35], [30, 45, 35]), (3, [55, 50, -10], [28, 30, 45]),
    (4, [-55, 50, -20], [28, 30, 45]), (5, [40, -30, 40], [40, 30, 40]), (6, [-30, -55, -25], [15, 20, 30]),
    (8, [15, 10, -5], [55, 15, 12]), (14, [0, -20, -75], [35, 30, 25])
]
func organ(at p: SIMD3<Double>) -> UInt8 {
    var label: UInt8 = 0
    for (l, c, r) in organs {
        let d = (p - c) / r
        if (d * d).sum() <= 1 { label = l }
    }
    return label
}
var voxels = [Int16](repeating: -1000, count: size.count)
var truth = [UInt8](repeating: 0, count: size.count)
for k in 0..<size.k {
    for j in 0..<size.j {
        for i in 0..<size.i {
            let p = geometry.point(atIndex: [Double(i), Double(j), Double(k)])
            let n = i + 512 * (j + 512 * k)
            if (p.x / 170) * (p.x / 170) + (p.y / 130) * (p.y / 130) <= 1 {
                voxels[n] = Int16(20 + (i * 7 + j * 3) % 40)
            }
            let l = organ(at: p)
            if l != 0 {
                truth[n] = l
                voxels[n] = 40 + Int16(l) * 6
            }
        }
    }
}
let scan = Volume(geometry: geometry, voxels: voxels)
voxels = []

let crop = InputPreparation.BodyCrop(thresholdHU: -500, marginMM: 10)
step("body crop (find box)") { BodyCrop.box(of: scan, crop, threads: threads) }
let official = InputPreparation.officialCheckpoint
_ = step("prepare: official 256×256×160, z-score") { try! Preparation.prepare(scan, as: official, threads: threads) }
let ours = InputPreparation(
    orientation: "LPS", resample: .spacing([1.5, 1.5, 2.5]), normalization: .clipScale(min: -200, max: 300),
    bodyCrop: crop)
let prepared = step("prepare: LPS, 1.5×1.5×2.5 mm, clip-scale, body crop") {
    try! Preparation.prepare(scan, as: ours, threads: threads)
}
let record = prepared.record
print(
    "prepared grid \(record.preparedSize) (\(String(format: "%.0f", Double(record.preparedSize.count * 4) / 1_048_576)) MiB of Float)"
)

// One-hot scores of the phantom on the prepared grid, handed over in slabs of 8 planes as a
// streaming merger would (generated before timing, one slab at a time).
let classes = 17
let p = record.preparedSize
var slabs: [ScoreSlab] = []
for k0 in stride(from: 0, to: p.k, by: 8) {
    let depth = min(8, p.k - k0)
    var scores = [Float](repeating: 0, count: classes * depth * p.sliceCount)
    for k in 0..<depth {
        for j in 0..<p.j {
            for i in 0..<p.i {
                let l = Int(organ(at: record.preparedGeometry.point(atIndex: [Double(i), Double(j), Double(k0 + k)])))
                scores[l * depth * p.sliceCount + i + p.i * (j + p.j * k)] = 1
            }
        }
    }
    slabs.append(
        ScoreSlab(slices: k0..<(k0 + depth), size: Extent3(p.i, p.j, depth), classCount: classes, scores: scores))
}
let scoreMiB = Double(slabs.reduce(0) { $0 + $1.scores.count } * 4) / 1_048_576
print(
    "scores generated: \(String(format: "%.0f", scoreMiB)) MiB in \(slabs.count) slabs (held by the benchmark, not counted below)"
)
var labels = step("scores → labels on the scan grid (slabs of 8 planes)") { () -> Volume<UInt8> in
    let labeler = SourceGridLabeler(record: record, classCount: classes, threads: threads)
    for slab in slabs { try! labeler.add(slab) }
    return try! labeler.finish()
}
slabs = []
var agree = 0
for n in labels.voxels.indices where labels.voxels[n] == truth[n] { agree += 1 }
print(
    "labels agree with the phantom on \(String(format: "%.4f", Double(agree) / Double(truth.count) * 100)) % of voxels")
step("largest component per organ") { LargestComponent.keepLargestPerLabel(&labels, threads: threads) }
let organStats = step("statistics") {
    try! OrganStatistics.measure(labels: labels, scan: scan, classes: OrganClass.word, threads: threads)
}
let folder = NSTemporaryDirectory() + "preprocess-bench-\(getpid())"
try! FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: folder) }
step("write segmentation.nii.zst + .nii.gz") { try! SegmentationWriter.write(labels, into: folder) }
step("write statistics.json") {
    try! StatisticsReport(
        model: .init(id: "bench", version: "0"), precision: "int8", stages: [], geometry: geometry, organs: organStats
    ).write(into: folder)
}
step("render + write preview.png") {
    try! PreviewRenderer().write(labels: labels, scan: scan, classes: OrganClass.word, title: "bench", into: folder)
}
