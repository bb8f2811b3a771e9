import ArgumentParser
import Daemon
import Foundation
import Retraining

/// `--config` for the commands that manage <work>/models.
struct ModelStoreOptions: ParsableArguments {
    @Option(name: .long, help: "Configuration file (default \(DaemonConfiguration.defaultPath)).")
    var config: String = DaemonConfiguration.defaultPath

    func store(_ command: String) throws -> ModelStore {
        do {
            return try ModelStore(path: ConfigurationLoader.load(file: config).modelsPath)
        } catch let error as ConfigurationError {
            FileHandle.standardError.write(Data("lcovnet model \(command): \(error)\n".utf8))
            throw ExitCode(ExitStatus.invalidConfiguration)
        }
    }
}
