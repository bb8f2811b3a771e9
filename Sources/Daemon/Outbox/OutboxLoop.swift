import Foundation
import Logging

/// How one outbox entry's delivery went.
public enum DeliveryOutcome: Sendable, Equatable {
    /// The peer answered success (or a warning: it holds the object).
    case stored
    /// The peer answered with a failure status, or could not be reached: try again later.
    case notStored(String)
    /// The object is no longer there (a later result of the series replaced it, and that result
    /// is owed in its own entries): nothing left to send.
    case gone
}

/// Sends a batch of outbox entries to one destination (DaemonJobs: C-STORE in a worker process).
public protocol OutboxSender: Sendable {
    func send(_ entries: [OutboxEntry], to destination: DaemonConfiguration.Destination) async -> [DeliveryOutcome]
}

/// The daemon's outbox: every second, the entries that are due go to their destinations; one
/// that is stored is marked sent and never sent again, one that is not is tried again after the
/// retry delay, doubling per attempt up to `maximumDelaySeconds`, across restarts (the ledger
/// holds the schedule).
struct OutboxLoop: Sendable {
    let ledger: any JobLedger
    let sender: any OutboxSender
    let destinations: [DaemonConfiguration.Destination]
    let retrySeconds: Double
    let logger: Logger
    static let maximumDelaySeconds = 600.0

    func run() async {
        while !Task.isCancelled {
            await sendDue(now: Date().timeIntervalSince1970)
            try? await Task.sleep(for: .seconds(1))
        }
    }

    func sendDue(now: Double) async {
        guard let due = try? ledger.dueOutbox(now: now), !due.isEmpty else { return }
        for (name, entries) in Dictionary(grouping: due, by: \.destination).sorted(by: { $0.key < $1.key }) {
            // A destination taken out of the configuration keeps its entries pending (status shows them).
            guard let destination = destinations.first(where: { $0.name == name }), !Task.isCancelled else { continue }
            let outcomes = await sender.send(entries, to: destination)
            let finished = Date().timeIntervalSince1970
            let updated = zip(entries, outcomes).map {
                Self.apply($1, to: $0, now: finished, retrySeconds: retrySeconds)
            }
            do {
                try ledger.update(updated)
            } catch {
                logger.error("outbox not updated; the objects will be sent again", metadata: ["error": "\(error)"])
                continue
            }
            let sent = updated.filter { $0.state == .sent }.count
            if sent > 0 {
                logger.info("results sent", metadata: ["destination": "\(name)", "objects": .stringConvertible(sent)])
            }
            if let failed = updated.first(where: { $0.state == .pending }) {
                logger.warning(
                    "results not sent; will retry",
                    metadata: [
                        "destination": "\(name)",
                        "objects": .stringConvertible(updated.filter { $0.state == .pending }.count),
                        "error": "\(failed.lastError ?? "")",
                        "retry_in_s": .stringConvertible(Int(failed.nextAttemptAt - finished))
                    ])
            }
        }
    }

    static func apply(_ outcome: DeliveryOutcome, to entry: OutboxEntry, now: Double, retrySeconds: Double)
        -> OutboxEntry
    {
        var e = entry
        e.attempts += 1
        switch outcome {
        case .stored:
            e.state = .sent
            e.sentAt = now
            e.lastError = nil
        case .gone:
            e.state = .abandoned
            e.lastError = "the result file is gone (a later result of the series replaced it)"
        case .notStored(let reason):
            e.lastError = reason
            e.nextAttemptAt = now + min(maximumDelaySeconds, retrySeconds * pow(2, Double(e.attempts - 1)))
        }
        return e
    }
}
