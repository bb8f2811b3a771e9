import ArgumentParser

/// `lcovnet model`: model files (import, info, quantize) and the bare network on one window.
struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Import, inspect, quantize and run LCOV-Net model directories.",
        // One line per group, so that adding a command rarely conflicts with another's.
        subcommands: [
            ModelImportCommand.self, ModelExportCommand.self, ModelInfoCommand.self, ModelQuantizeCommand.self,
            ModelForwardCommand.self,
            ModelListCommand.self, ModelPromoteCommand.self, ModelRollbackCommand.self
        ])
}
