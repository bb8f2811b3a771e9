import ArgumentParser
import Foundation
import Inference

/// `lcovnet model quantize <model-dir> --calibrate <inputs...> -o <int8-model-dir>`
struct ModelQuantizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize",
        abstract: "Calibrate int8 activation scales on prepared inputs and write an int8 model directory.",
        discussion: """
            Inputs are NumPy float32 arrays prepared as the model's manifest says: windows (1×1×D×H×W) or \
            whole prepared volumes (D×H×W), which are cut into up to --windows-per-volume windows of the model's size. \
            Each calibration method is measured against fp32 and the best is kept; the manifest records the figures.
            """)

    @Argument(help: "fp32 model directory")
    var model: String

    @Option(name: .customLong("calibrate"), parsing: .upToNextOption, help: "calibration inputs (.npy)")
    var inputs: [String]

    @Option(name: .shortAndLong, help: "int8 model directory to write")
    var output: String

    @Option(help: "windows taken from each input larger than the model's window")
    var windowsPerVolume: Int = 4

    @Option(help: "oneDNN threads (default: all cores)")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Flag(help: "Also try Encode_block1 in fp32 (closer to fp32, but about 1.4× the time per window and 2× the activations' memory); kept only if it measures better.")
    var tryFp32FirstBlock = false

    @Option(help: "LACB-H blocks to keep in fp32 in every candidate, comma-separated (Encode_block1-4, Decode_block1-4; Decode_block4 also takes segout4).")
    var fp32Blocks: String?

    func validate() throws {
        for name in fp32BlockList where !Int8Quantizer.blocksAllowedInFP32.contains(name) {
            throw ValidationError("--fp32-blocks: \(name) is not one of \(Int8Quantizer.blocksAllowedInFP32.joined(separator: ", "))")
        }
        guard !inputs.isEmpty else { throw ValidationError("give at least one calibration input with --calibrate") }
    }

    func run() throws {
        let directory = try ModelDirectory(path: model)
        let m = directory.manifest.window
        var windows: [(shape: WindowShape, values: [Float])] = []
        for input in inputs {
            let (shape, values) = try NPYFile.read(input)
            guard shape.count >= 3, shape.dropLast(3).allSatisfy({ $0 == 1 }) else {
                throw ValidationError("\(input): shape \(shape) is neither 1×1×D×H×W nor D×H×W")
            }
            let dims = Array(shape.suffix(3))
            if let window = try? WindowShape(d: dims[0], h: dims[1], w: dims[2]), zip(dims, m).allSatisfy({ $0 <= $1 }) {
                windows.append((window, values))
                continue
            }
            // A prepared volume: windows of the model's size (smaller where the volume is), spread evenly.
            let size = zip(dims, m).map { d, w in min(w, d / 16 * 16) }
            guard let window = try? WindowShape(d: size[0], h: size[1], w: size[2]) else {
                throw ValidationError("\(input): \(dims.map(String.init).joined(separator: "×")) is too small for a window (each size ≥ 32)")
            }
            for i in 0..<windowsPerVolume {
                let t = windowsPerVolume == 1 ? 0.5 : Double(i) / Double(windowsPerVolume - 1)
                let origin = (0..<3).map { Int(Double(dims[$0] - size[$0]) * t) }
                var crop = [Float](repeating: 0, count: window.voxelCount)
                var o = 0
                for z in 0..<size[0] {
                    for y in 0..<size[1] {
                        let base = ((origin[0] + z) * dims[1] + origin[1] + y) * dims[2] + origin[2]
                        for x in 0..<size[2] { crop[o] = values[base + x]; o += 1 }
                    }
                }
                windows.append((window, crop))
            }
        }
        let heads = (tryFp32FirstBlock ? Int8Quantizer.candidateHeads : [[]]).map { Array(Set($0 + fp32BlockList)).sorted() }
        let (_, report) = try Int8Quantizer.quantize(model: directory, windows: windows, sources: inputs, output: output, threads: threads,
                                                     heads: heads) {
            FileHandle.standardError.write(Data("\($0)\n".utf8))
        }
        print("\(output): int8, calibration \(report.chosen.description)")
        for note in report.notes { print(note) }
    }

    var fp32BlockList: [String] { fp32Blocks?.split(separator: ",").map(String.init) ?? [] }
}
