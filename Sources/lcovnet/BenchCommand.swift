import ArgumentParser
import Foundation
import Inference
import Segmentation
import SlidingWindows
import Volumes

/// `lcovnet bench`: per-window latency and multiply-adds per second of our int8 and fp32
/// engines and of the peers under bench/, in one run, with a per-layer breakdown.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmark the LCOV-Net engines (int8, fp32) and the peers in bench/ on one window.",
        discussion:
            "Prints a Markdown section (machine, date, command, results) for docs/BENCHMARKS.md; scripts/bench.sh prepares the models and the peers' venv."
    )

    @Option(help: "fp32 model directory")
    var model: String

    @Option(help: "int8 model directory (from lcovnet model quantize); omit to bench fp32 only")
    var int8Model: String?

    @Option(help: "window D×H×W, e.g. 64x160x160")
    var window: String = "64x160x160"

    @Option(help: "thread counts, comma-separated")
    var threads: String = "1,2"

    @Option(name: .customLong("repeat"), help: "timed runs per configuration (after one warm-up)")
    var repeatCount: Int = 3

    @Option(help: "Python with torch for the PyTorch peer (empty: skip)")
    var torchPython: String = "/usr/bin/python3"

    @Option(help: "Python with torch, onnx and onnxruntime for the ONNX Runtime peer (empty or missing: skip)")
    var ortPython: String = ".cache/bench-venv/bin/python"

    @Option(help: "directory holding the peers (pytorch_fp32.py, onnxruntime_int8.py)")
    var peers: String = "bench"

    @Option(
        help:
            "also time a whole synthetic volume D×H×W (e.g. 160x256x256) with sliding windows, at the largest thread count"
    )
    var volume: String?

    @Option(help: "window overlap of the whole-volume run")
    var overlap: Double = 0.5

    @Option(help: "append the Markdown section to this file too")
    var append: String?

    /// One configuration ("int8/2") measured in this process alone, printed as JSON: what the
    /// parent runs in a fresh child per configuration (a second engine in one process ran 25 %
    /// slower than it does alone: 838 ms against 404 ms).
    @Option(help: .hidden)
    var single: String?

    /// With --single: also measure the int8 peak (once per thread count, by its first child).
    @Flag(help: .hidden)
    var withPeak = false

    func run() throws {
        guard WindowShape.dimensions(window) != nil else { throw ValidationError("--window must look like 64x160x160") }
        let shape = try WindowShape(parsing: window)
        let threadCounts = threads.split(separator: ",").compactMap { Int($0) }
        let fp32Model = try ModelDirectory(path: model)
        let int8 = try int8Model.map { try ModelDirectory(path: $0) }
        var out = BenchReport(shape: shape, command: CommandLine.arguments.joined(separator: " "))

        if let single {
            let parts = single.split(separator: "/")
            guard parts.count == 2, let precision = Precision(rawValue: String(parts[0])), let t = Int(parts[1]),
                let directory = precision == .int8 ? int8 : fp32Model
            else { throw ValidationError("--single must look like int8/2") }
            let run = try measure(precision: precision, directory: directory, threads: t, shape: shape, peak: withPeak)
            print(String(decoding: try JSONEncoder().encode(run), as: UTF8.self))
            return
        }

        for t in threadCounts {
            for precision in [Precision.int8, .fp32] where (precision == .int8 ? int8Model : model) != nil {
                log("lcovnet \(precision.rawValue), \(t) thread(s), in a process of its own")
                let run = try measureInChild(precision: precision, threads: t, peak: out.peaks[t] == nil)
                if let peak = run.peak { out.peaks[t] = peak }
                out.rows.append(run.row)
                out.profiles["\(precision.rawValue)/\(t)"] = run.profile
                out.multiplyAdds = run.row.multiplyAdds
            }
            for (python, script) in [(torchPython, "pytorch_fp32.py"), (ortPython, "onnxruntime_int8.py")]
            where !python.isEmpty {
                guard FileManager.default.isExecutableFile(atPath: python) else {
                    out.notes.append("peer \(script) skipped: \(python) is missing")
                    continue
                }
                log("peer \(script), \(t) thread(s)")
                out.rows += try peer(python: python, script: "\(peers)/\(script)", threads: t, shape: shape, out: &out)
            }
        }
        if let volume {
            guard let v = WindowShape.dimensions(volume) else {
                throw ValidationError("--volume must look like 160x256x256")
            }
            for (precision, directory) in [(Precision.int8, int8), (.fp32, fp32Model)] {
                guard let directory else { continue }
                log("whole volume \(volume), lcovnet \(precision.rawValue)")
                out.volumeRuns.append(
                    try wholeVolume(
                        v, precision: precision, model: directory, shape: shape, threads: threadCounts.max() ?? 2))
            }
        }
        let text = out.markdown()
        print(text)
        if let append {
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: append))
            handle.seekToEndOfFile()
            handle.write(Data(("\n" + text).utf8))
            try handle.close()
        }
    }

    /// One configuration's figures, as the child hands them to the parent.
    struct SingleRun: Codable {
        var row: BenchReport.Row
        var peak: Double?
        var profile: [LCOVNetEngine.StepTiming]
    }

    /// Times one engine after a warm-up, with the int8 convolution peak at the same thread count
    /// when asked.
    private func measure(
        precision: Precision, directory: ModelDirectory, threads t: Int, shape: WindowShape, peak measuresPeak: Bool
    ) throws -> SingleRun {
        let peak = measuresPeak ? try PeakProbe.int8ConvolutionPeak(threads: t) : nil
        let input = BenchWindow.make(d: shape.d, h: shape.h, w: shape.w)
        var logits = [Float](repeating: 0, count: LCOVNetArchitecture.classCount * shape.voxelCount)
        let engine = try LCOVNetEngine(model: directory, precision: precision, threads: t, window: shape)
        var times: [Double] = []
        var cpu: [Double] = []
        var profile: [LCOVNetEngine.StepTiming] = []
        try input.withUnsafeBufferPointer { x in
            try logits.withUnsafeMutableBufferPointer { y in
                try engine.predict(window: x, into: y)
                for _ in 0..<repeatCount {
                    let start = DispatchTime.now().uptimeNanoseconds
                    let cpuStart = processCPUSeconds()
                    try engine.predict(window: x, into: y)
                    times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                    cpu.append(processCPUSeconds() - cpuStart)
                }
                profile = try engine.profile(window: x, into: y)
            }
        }
        return SingleRun(
            row: .init(
                name: "lcovnet \(precision.rawValue)", threads: t, seconds: times, cpuSeconds: cpu,
                multiplyAdds: engine.multiplyAdds,
                memoryMiB: engine.arenaBytes / (1 << 20)),
            peak: peak, profile: profile)
    }

    /// `measure` in a fresh `lcovnet bench --single` process.
    private func measureInChild(precision: Precision, threads: Int, peak: Bool) throws -> SingleRun {
        let process = Process()
        process.executableURL = URL(
            fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
                ?? CommandLine.arguments[0])
        process.arguments =
            [
                "bench", "--model", model, "--window", window, "--repeat", "\(repeatCount)", "--single",
                "\(precision.rawValue)/\(threads)"
            ]
            + (int8Model.map { ["--int8-model", $0] } ?? []) + (peak ? ["--with-peak"] : [])
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0, let line = data.split(separator: 0x0A).last else {
            throw ValidationError(
                "the \(precision.rawValue) run with \(threads) thread(s) failed (status \(process.terminationStatus))")
        }
        return try JSONDecoder().decode(SingleRun.self, from: Data(line))
    }

    /// Sliding windows over a synthetic volume, Gaussian-weighted and merged slab by slab.
    private func wholeVolume(_ v: [Int], precision: Precision, model: ModelDirectory, shape: WindowShape, threads: Int)
        throws -> String
    {
        let size = Extent3(v[2], v[1], v[0])
        let geometry = Geometry(size: size)
        let voxels = BenchWindow.make(d: v[0], h: v[1], w: v[2])
        let source = VolumeWindowSource(volume: Volume(geometry: geometry, voxels: voxels), padding: 0)
        let plan = WindowPlan(volumeSize: size, windowSize: shape.extent, overlap: overlap)
        let start = DispatchTime.now().uptimeNanoseconds
        let predictor = EnginePredictor(
            engine: try LCOVNetEngine(model: model, precision: precision, threads: threads, window: shape))
        var slices = 0
        try SlidingWindowInference(plan: plan).run(source: source, predictor: predictor) { slab in
            slices += slab.slices.count
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return
            "whole volume \(v.map(String.init).joined(separator: "×")), lcovnet \(precision.rawValue), \(threads) threads: "
            + "\(plan.origins.count) windows of \(shape) at \(Int(overlap * 100)) % overlap, \(slices) slices finalized, "
            + String(
                format: "%.1f s including engine build; process peak RSS so far %d MiB", seconds, usage.ru_maxrss / 1024
            )
    }

    private func log(_ message: String) { FileHandle.standardError.write(Data("bench: \(message)\n".utf8)) }

    /// Runs one peer script; each JSON line it prints is one row.
    private func peer(python: String, script: String, threads: Int, shape: WindowShape, out: inout BenchReport) throws
        -> [BenchReport.Row]
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [
            script, "--weights", "\(model)/weights.safetensors", "--window", "\(shape.d)", "\(shape.h)", "\(shape.w)",
            "--threads", "\(threads)", "--repeat", "\(repeatCount)"
        ]
        let pipe = Pipe()
        let errors = Pipe()
        process.standardOutput = pipe
        process.standardError = errors
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            out.notes.append(
                "peer \(script) failed (\(process.terminationStatus)): \(errorText.split(separator: "\n").last ?? "")")
            return []
        }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { line in
            guard let json = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let name = json["peer"] as? String, let seconds = json["seconds"] as? [Double]
            else { return nil }
            return .init(
                name: "\(name) \(json["version"] as? String ?? "")", threads: threads, seconds: seconds,
                cpuSeconds: json["cpu_seconds"] as? [Double] ?? [],
                multiplyAdds: out.multiplyAdds, memoryMiB: json["peak_rss_mib"] as? Int, memoryIsPeakRSS: true)
        }
    }
}

/// User plus system CPU seconds of this process, all threads.
func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(
        usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

/// The same synthetic window as bench/peer_common.py's shape (smooth structure plus noise).
enum BenchWindow {
    static func make(d: Int, h: Int, w: Int) -> [Float] {
        var state: UInt64 = 12345
        var out = [Float](repeating: 0, count: d * h * w)
        var i = 0
        for z in 0..<d {
            for y in 0..<h {
                for x in 0..<w {
                    state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                    let noise = (Float(state >> 40) / Float(1 << 24) - 0.5) * 1.4
                    out[i] =
                        sinf(Float(z) * 0.21) * cosf(Float(y) * 0.13) + sinf(Float(x) * 0.09 + Float(y) * 0.05) + noise
                    i += 1
                }
            }
        }
        return out
    }
}
