import ArgumentParser
import Foundation
import Inference

/// `lcovnet model forward`: the bare network on one prepared window, for scripts and parity checks.
struct ModelForwardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forward",
        abstract:
            "Run the network on one window (.npy float32 1×1×D×H×W) and write its logits (.npy float32 1×17×D×H×W).")

    @Option(help: "model directory")
    var model: String

    @Option(help: "input window, NumPy float32 of shape 1×1×D×H×W (or D×H×W)")
    var input: String

    @Option(help: "output logits, NumPy float32 of shape 1×17×D×H×W")
    var output: String

    @Option(help: "int8 or fp32 (default: the model's own precision)")
    var precision: Precision?

    @Option(name: .customLong("repeat"), help: "run the window this many times and print each run's time on stderr")
    var repeatCount: Int = 1

    @Option(help: "oneDNN threads (default: all cores)")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    func validate() throws {
        guard repeatCount >= 1 else { throw ValidationError("--repeat must be at least 1") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        let directory = try ModelDirectory(path: model)
        let (shape, values) = try NPYFile.read(input)
        let spatial = Array(shape.suffix(3))
        guard shape.count >= 3, shape.dropLast(3).allSatisfy({ $0 == 1 }) else {
            throw ValidationError("\(input): shape \(shape) is not 1×1×D×H×W")
        }
        let window = try WindowShape(d: spatial[0], h: spatial[1], w: spatial[2])
        let engine = try LCOVNetEngine(model: directory, precision: precision, threads: threads, window: window)
        var logits = [Float](repeating: 0, count: engine.classCount * window.voxelCount)
        for i in 0..<repeatCount {
            let start = DispatchTime.now().uptimeNanoseconds
            try values.withUnsafeBufferPointer { x in
                try logits.withUnsafeMutableBufferPointer { try engine.predict(window: x, into: $0) }
            }
            if repeatCount > 1 {
                let ms = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
                FileHandle.standardError.write(Data("run \(i + 1): \(String(format: "%.1f", ms)) ms\n".utf8))
            }
        }
        try logits.withUnsafeBufferPointer {
            try NPYFile.write(output, shape: [1, $0.count / window.voxelCount] + spatial, values: $0)
        }
    }
}

extension Precision: ExpressibleByArgument {}
