import ArgumentParser
import Inference

/// `lcovnet model import <state_dict.safetensors> -o <model-dir> [--preparation FILE]`
struct ModelImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract:
            "Convert a PyTorch LCOV-Net state_dict (the reference code's, PyMIC's or nnU-Net v1's, exported to safetensors by tools/export_checkpoint.py or tools/export_nnunet_v1.py) into a model directory."
    )

    @Argument(help: "state_dict in safetensors (key names as in the reference code; up*.conv1.* duplicates accepted)")
    var stateDict: String

    @Option(name: .shortAndLong, help: "model directory to write")
    var output: String

    @Option(help: "model version to record (default: today's date)")
    var modelVersion: String?

    @Option(
        help:
            "JSON with the preparation the checkpoint was trained with: {\"input\": {...}, \"window\": [D, H, W], \"notes\": [...]} (tools/export_nnunet_v1.py writes it; default: the official checkpoint's PyMIC preparation)"
    )
    var preparation: String?

    func run() throws {
        let trained = try preparation.map(TrainedPreparation.read) ?? .officialCheckpoint
        let model = try ModelDirectory.importStateDict(
            stateDict, into: output, input: trained.input, window: trained.window,
            modelVersion: modelVersion, notes: trained.notes)
        print(
            "\(output): LCOV-Net fp32, \(model.manifest.classes.count) classes, window \(model.manifest.window.map(String.init).joined(separator: "×"))"
        )
    }
}
