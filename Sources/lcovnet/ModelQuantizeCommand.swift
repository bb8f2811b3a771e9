import ArgumentParser
import Foundation
import Inference
import Segmentation

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

    @Flag(
        help:
            "Also try Encode_block1 in fp32 (closer to fp32, but about 1.4× the time per window and 2× the activations' memory); kept only if it measures better."
    )
    var tryFp32FirstBlock = false

    @Option(
        help:
            "LACB-H blocks to keep in fp32 in every candidate, comma-separated (Encode_block1-4, Decode_block1-4; Decode_block4 also takes segout4)."
    )
    var fp32Blocks: String?

    func validate() throws {
        for name in fp32BlockList where !Int8Quantizer.blocksAllowedInFP32.contains(name) {
            throw ValidationError(
                "--fp32-blocks: \(name) is not one of \(Int8Quantizer.blocksAllowedInFP32.joined(separator: ", "))")
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
            if let window = try? WindowShape(d: dims[0], h: dims[1], w: dims[2]), zip(dims, m).allSatisfy({ $0 <= $1 })
            {
                windows.append((window, values))
                continue
            }
            // A prepared volume: windows cut as segmentation would see them.
            windows += try CalibrationWindows.cut(values, dims: dims, model: m, count: windowsPerVolume)
        }
        let heads = (tryFp32FirstBlock ? Int8Quantizer.candidateHeads : [[]]).map {
            Array(Set($0 + fp32BlockList)).sorted()
        }
        let (_, report) = try Int8Quantizer.quantize(
            model: directory, windows: windows, sources: inputs, output: output, threads: threads,
            heads: heads
        ) {
            FileHandle.standardError.write(Data("\($0)\n".utf8))
        }
        print("\(output): int8, calibration \(report.chosen.description)")
        for note in report.notes { print(note) }
    }

    var fp32BlockList: [String] { fp32Blocks?.split(separator: ",").map(String.init) ?? [] }
}
