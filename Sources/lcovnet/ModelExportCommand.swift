import ArgumentParser
import Foundation
import Inference
import Training

/// `lcovnet model export`: a training run's latest checkpoint as a model directory, without
/// preparing the run's phantoms again (what `train --export-model` does at the end of a run).
struct ModelExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a training run's checkpoint as an fp32 model directory.",
        discussion:
            "Reads RUN/configuration.json and RUN/checkpoint.safetensors; the manifest takes the run's input preparation and window."
    )

    @Argument(help: "Run folder of `lcovnet train` or `lcovnet distill`.") var runFolder: String
    @Option(name: .shortAndLong, help: "Model directory to write.") var output: String
    @Option(help: "Model version to record (default: today's date and the run's step).") var modelVersion: String?
    @Option(help: "Inference window D×H×W for the manifest (default: the training window).") var window: String?
    @Option(
        help:
            "Also write the checkpoint as an fp16 state dict here: a teacher for `distill --teacher` and the daemon's retrain.teacher, at half the size."
    )
    var halfStateDict: String?
    @Option(
        help:
            "Measure BatchNorm's statistics again over windows of these volumes (FIRST-LAST, drawn as the run draws its training volumes: CT synthesized on its anatomy maps, or phantoms) instead of keeping the checkpoint's, which come from the training pool of its moment."
    )
    var statisticsSeeds: String?
    @Option(help: "Windows per volume for --statistics-seeds.") var statisticsWindowsPerVolume: Int = 8

    func run() throws {
        let configurationPath = "\(runFolder)/configuration.json"
        let checkpoint = "\(runFolder)/checkpoint.safetensors"
        guard let data = FileManager.default.contents(atPath: configurationPath) else {
            throw ValidationError("\(configurationPath): not found (not a training run folder)")
        }
        let configuration = try JSONDecoder().decode(TrainingConfiguration.self, from: data)
        var state = try SafeTensors(contentsOf: checkpoint)
        if let statisticsSeeds {
            state = try BatchNormRecalibration.measure(
                state, source: checkpoint, configuration: configuration,
                seeds: try TrainingOptions.range(statisticsSeeds),
                windowsPerVolume: statisticsWindowsPerVolume
            ) { print($0) }
        }
        let step = (try? SafeTensors(contentsOf: "\(runFolder)/optimizer.safetensors"))?.metadata["step"] ?? "?"
        let inferenceWindow = try window.map { text -> [Int] in
            guard let shape = try? WindowShape(parsing: text) else {
                throw ValidationError("--window \(text): expected D×H×W, multiples of 16, at least 32")
            }
            return shape.dims
        }
        let today = ISO8601DateFormatter().string(from: Date()).prefix(10)
        try Trainer.exportModel(
            stateDict: state, configuration: configuration, source: checkpoint, to: output,
            version: modelVersion ?? "\(today)-step\(step)", window: inferenceWindow,
            notes: [
                "\(configuration.dataDescription), step \(step) of \(configuration.steps), "
                    + "window \(configuration.window.map(String.init).joined(separator: "x")), batch \(configuration.batch)"
            ])
        print("\(output): LCOV-Net fp32 from \(checkpoint) (step \(step))")
        if let halfStateDict {
            var half = state
            for (name, tensor) in state.tensors { half.tensors[name] = try tensor.halved(name: name) }
            half.metadata["source"] =
                "\((checkpoint as NSString).lastPathComponent) step \(step), \(configuration.dataDescription)"
            try half.write(to: halfStateDict)
            print(
                "\(halfStateDict): fp16 state dict, widths \(configuration.widths.map(String.init).joined(separator: ","))"
            )
        }
    }
}
