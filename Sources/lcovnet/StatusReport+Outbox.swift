import Daemon
import Foundation

extension StatusReport {
    /// The outbox per destination: what is sent, what waits (and why), what was given up.
    struct Outbox: Encodable {
        var destination: String
        var sent: Int
        var pending: Int
        var abandoned: Int
        /// Of the oldest pending entry: attempts so far, the last error, when it is tried next.
        var attempts: Int?
        var last_error: String?
        var next_attempt_at: Double?

        static func summarize(_ entries: [OutboxEntry]) -> [Outbox] {
            Dictionary(grouping: entries, by: \.destination).sorted { $0.key < $1.key }.map { name, list in
                let waiting = list.filter { $0.state == .pending }
                return Outbox(
                    destination: name, sent: list.filter { $0.state == .sent }.count, pending: waiting.count,
                    abandoned: list.filter { $0.state == .abandoned }.count, attempts: waiting.first?.attempts,
                    last_error: waiting.first?.lastError, next_attempt_at: waiting.first?.nextAttemptAt)
            }
        }

        var text: String {
            var line = "  \(destination)  sent \(sent), pending \(pending)"
            if abandoned > 0 { line += ", abandoned \(abandoned)" }
            if let attempts, attempts > 0, let last_error {
                line += "  (after \(attempts) attempts: \(last_error.escapingControlCharacters))"
            }
            return line + "\n"
        }
    }

    static func outboxText(_ outbox: [Outbox]) -> String {
        outbox.isEmpty ? "" : "outbox:\n" + outbox.map(\.text).joined()
    }
}
