import ArgumentParser
import Daemon
import Foundation
import Retraining

/// `lcovnet status`: what the daemon has queued, running, done and failed, and why.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the daemon's job ledger: counts per state and the jobs that need attention.",
        discussion:
            "Exit codes: 0 shown, 3 no ledger yet (the daemon never ran with this configuration), 78 invalid configuration."
    )

    @Option(name: .long, help: "Configuration file (default \(DaemonConfiguration.defaultPath)).")
    var config: String = DaemonConfiguration.defaultPath

    @Flag(name: .long, help: "Print JSON: counts and every job.")
    var json = false

    @Option(name: .long, help: "How many recent done jobs to list.")
    var recent = 10

    func run() throws {
        let configuration: DaemonConfiguration
        do {
            configuration = try ConfigurationLoader.load(file: config)
        } catch {
            FileHandle.standardError.write(Data("lcovnet status: \(error)\n".utf8))
            throw ExitCode(ExitStatus.invalidConfiguration)
        }
        guard !configuration.ledgerURL.isEmpty || FileManager.default.fileExists(atPath: configuration.ledgerPath)
        else {
            FileHandle.standardError.write(
                Data("lcovnet status: \(configuration.ledgerPath): no ledger yet; start the daemon first\n".utf8))
            throw ExitCode(ExitStatus.inputMissing)
        }
        let ledger = try JobLedgers.openForReading(configuration)
        let jobs = try ledger.allJobs()
        let retraining = StatusReport.Retraining(configuration)
        // A ledger from before the outbox existed has no outbox table: nothing owed.
        let outbox = StatusReport.Outbox.summarize((try? ledger.outbox()) ?? [])
        // A ledger from before leases has no worker table: no workers shown.
        let workers = StatusReport.Worker.summarize(
            (try? ledger.workers()) ?? [], leaseSeconds: configuration.leaseSeconds)
        print(
            json
                ? StatusReport.json(jobs, retraining: retraining, outbox: outbox, workers: workers)
                : StatusReport.text(jobs, recent: recent) + StatusReport.workersText(workers)
                    + StatusReport.outboxText(outbox) + retraining.text,
            terminator: "")
    }
}
