import GRDB

/// One `lcovnet serve` process sharing the ledger. Its heartbeat keeps its jobs' leases: a job
/// whose holder has not beaten for `[ledger] lease_seconds` (by the ledger's clock, so hosts'
/// clocks need not agree) may be taken by another worker.
public struct WorkerRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "worker"

    public enum State: String, Codable, Sendable, CaseIterable, DatabaseValueConvertible {
        case active
        /// SIGTERM: finishing its running jobs, taking no new ones.
        case draining
        /// Shut down cleanly; its unfinished jobs were handed back.
        case stopped
    }

    enum CodingKeys: String, CodingKey {
        case id, host, pid, state, startedAt = "started_at", heartbeatAt = "heartbeat_at"
    }

    /// Stable across restarts of the worker on its host (`[ledger] worker`, default the host name),
    /// so a restarted worker takes back its own jobs at once.
    public var id: String
    public var host: String
    public var pid: Int
    public var state: State
    /// Unix times in seconds by the ledger's clock (set by the ledger, not by the worker).
    public var startedAt: Double
    public var heartbeatAt: Double

    public init(id: String, host: String, pid: Int, state: State = .active) {
        self.id = id
        self.host = host
        self.pid = pid
        self.state = state
        startedAt = 0
        heartbeatAt = 0
    }
}

/// A worker as `lcovnet status` shows it: its row and what the ledger says of it now.
public struct WorkerStatus: Codable, Sendable, Equatable {
    public var worker: WorkerRecord
    /// Seconds since its last heartbeat, by the ledger's clock.
    public var heartbeatAge: Double
    /// Unfinished jobs under its lease.
    public var heldJobs: Int
}
