import ArgumentParser

/// `lcovnet model`: model files (import, info, quantize) and the bare network on one window.
struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Import, inspect, quantize and run LCOV-Net model directories.",
        subcommands: [ModelImportCommand.self, ModelExportCommand.self, ModelInfoCommand.self, ModelQuantizeCommand.self, ModelForwardCommand.self])
}
