import ArgumentParser
import Foundation
import Inference
import ModelSpec

/// `lcovnet model import <state_dict.safetensors> -o <model-dir> [--preparation FILE]`
struct ModelImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Convert a PyTorch LCOV-Net state_dict (the reference code's, PyMIC's or nnU-Net v1's, exported to safetensors by tools/export_checkpoint.py or tools/export_nnunet_v1.py) into a model directory.")

    @Argument(help: "state_dict in safetensors (key names as in the reference code; up*.conv1.* duplicates accepted)")
    var stateDict: String

    @Option(name: .shortAndLong, help: "model directory to write")
    var output: String

    @Option(help: "model version to record (default: today's date)")
    var modelVersion: String?

    @Option(help: "JSON with the preparation the checkpoint was trained with: {\"input\": {...}, \"window\": [D, H, W], \"notes\": [...]} (tools/export_nnunet_v1.py writes it; default: the official checkpoint's PyMIC preparation)")
    var preparation: String?

    /// What a framework's exporter records about how its checkpoint was trained.
    struct TrainedPreparation: Decodable {
        var input: InputPreparation
        var window: [Int]
        var notes: [String]?
    }

    func run() throws {
        var trained = TrainedPreparation(input: .officialCheckpoint, window: [64, 160, 160], notes: nil)
        if let preparation {
            do {
                trained = try JSONDecoder().decode(TrainedPreparation.self, from: Data(contentsOf: URL(fileURLWithPath: preparation)))
            } catch {
                throw ValidationError("\(preparation): not a preparation file: \(error)")
            }
            let w = trained.window
            guard w.count == 3, (try? WindowShape(d: w[0], h: w[1], w: w[2])) != nil else {
                throw ValidationError("\(preparation): window \(w) is not [D, H, W] with each a multiple of 16 and at least 32")
            }
        }
        let model = try ModelDirectory.importStateDict(stateDict, into: output, input: trained.input, window: trained.window,
                                                       modelVersion: modelVersion, notes: trained.notes ?? [])
        print("\(output): LCOV-Net fp32, \(model.manifest.classes.count) classes, window \(model.manifest.window.map(String.init).joined(separator: "×"))")
    }
}
