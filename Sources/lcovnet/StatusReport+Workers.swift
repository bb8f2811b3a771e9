import Daemon
import Foundation

extension StatusReport {
    /// One worker on the ledger: alive while its heartbeat is younger than the lease.
    struct Worker: Encodable {
        var id: String
        var host: String
        var pid: Int
        var state: String
        var alive: Bool
        var heartbeat_age_s: Double
        var started_at: Double
        /// Unfinished jobs under its lease.
        var held_jobs: Int

        static func summarize(_ workers: [WorkerStatus], leaseSeconds: Double) -> [Worker] {
            workers.map {
                Worker(
                    id: $0.worker.id, host: $0.worker.host, pid: $0.worker.pid, state: $0.worker.state.rawValue,
                    alive: $0.worker.state != .stopped && $0.heartbeatAge < leaseSeconds,
                    heartbeat_age_s: ($0.heartbeatAge * 10).rounded() / 10, started_at: $0.worker.startedAt,
                    held_jobs: $0.heldJobs)
            }
        }

        var text: String {
            let life = state == "stopped" ? "stopped" : alive ? state : "silent (lease expired)"
            return "  \(id.escapingControlCharacters)  \(host.escapingControlCharacters)  pid \(pid)  \(life)"
                + "  heartbeat \(heartbeat_age_s) s ago  \(held_jobs) jobs held\n"
        }
    }

    static func workersText(_ workers: [Worker]) -> String {
        workers.isEmpty ? "" : "workers:\n" + workers.map(\.text).joined()
    }
}
