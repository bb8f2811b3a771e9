import ArgumentParser
import Foundation
import Retraining

/// `lcovnet model rollback`: serve the version promoted before the current one again.
struct ModelRollbackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback", abstract: "Serve the model version that was current before the last promotion.")

    @OptionGroup var options: ModelStoreOptions

    func run() throws {
        let store = try options.store("rollback")
        do { print("\(try store.rollback()) is current") } catch {
            FileHandle.standardError.write(Data("lcovnet model rollback: \(error)\n".utf8))
            throw ExitCode(ExitStatus.failure)
        }
    }
}
