import ArgumentParser
import Inference

/// `lcovnet model import <state_dict.safetensors> -o <model-dir>`
struct ModelImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Convert a PyTorch LCOV-Net state_dict (the reference code's or PyMIC's, exported to safetensors by tools/export_checkpoint.py) into a model directory.")

    @Argument(help: "state_dict in safetensors (key names as in the reference code; up*.conv1.* duplicates accepted)")
    var stateDict: String

    @Option(name: .shortAndLong, help: "model directory to write")
    var output: String

    @Option(help: "model version to record (default: today's date)")
    var modelVersion: String?

    func run() throws {
        let model = try ModelDirectory.importStateDict(stateDict, into: output, modelVersion: modelVersion)
        print("\(output): LCOV-Net fp32, \(model.manifest.classes.count) classes, window \(model.manifest.window.map(String.init).joined(separator: "×"))")
    }
}
