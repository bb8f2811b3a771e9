import ArgumentParser
import Foundation
import Retraining

/// `lcovnet model promote VERSION`: serve a version (the daemon picks it up before its next job).
struct ModelPromoteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "promote", abstract: "Make a model version under <work>/models the one the daemon serves.")

    @Argument(help: "the version (see lcovnet model list)")
    var version: String

    @OptionGroup var options: ModelStoreOptions

    func run() throws {
        let store = try options.store("promote")
        do { try store.promote(version, reason: "lcovnet model promote") } catch {
            FileHandle.standardError.write(Data("lcovnet model promote: \(error)\n".utf8))
            throw ExitCode(ExitStatus.failure)
        }
        print("\(version) is current")
    }
}
