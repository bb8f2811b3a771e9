import ArgumentParser
import Foundation
import Inference
import Retraining

/// `lcovnet model list`: the versions under <work>/models, which one is current, and the promotions.
struct ModelListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List the model versions under <work>/models and which one the daemon serves.")

    @OptionGroup var options: ModelStoreOptions

    func run() throws {
        let store = try options.store("list")
        let current = store.current()
        for version in store.versions() {
            let manifest = try? ModelDirectory(path: "\(store.path)/\(version)").manifest
            let mark = version == current ? "*" : " "
            print(
                "\(mark) \(version)  \(manifest?.precision.rawValue ?? "?")  \(manifest?.provenance.notes.last ?? "")")
        }
        let events = store.history().events.suffix(10)
        if !events.isEmpty {
            print("history:")
            for e in events { print("  \(e.time)  \(e.action) \(e.version): \(e.reason)") }
        }
    }
}
