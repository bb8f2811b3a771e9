import Foundation

/// The job ledger: every series' job and the result objects owed to DICOM destinations. Each
/// call is one committed transaction, so a kill at any instant leaves the last step durable.
/// SQLite on the host is the embedded default (SQLiteJobLedger); `[ledger] url` puts it on
/// PostgreSQL (PostgresJobLedger), where several workers can share it.
public protocol JobLedger: Sendable {
    func insert(_ job: JobRecord) throws
    /// Fenced: throws `LedgerError.leaseLost` when the row's lease generation is no longer the
    /// record's (another worker took the job since it was read), and writes nothing.
    func update(_ job: JobRecord) throws
    /// Several rows in one transaction (a job and the earlier jobs whose inputs it takes).
    func update(_ jobs: [JobRecord]) throws
    /// The job and the result objects it owes the DICOM destinations, in one transaction (an
    /// entry already there, from a commit a kill interrupted, is kept as it is). An earlier job's
    /// entry for the same file still pending is abandoned: the file is now this job's result
    /// (late files replaced the series' result in place), sent once under the new entry.
    func update(_ job: JobRecord, owing outbox: [OutboxEntry]) throws
    /// Pending entries due by `now`, oldest first.
    func dueOutbox(now: Double, limit: Int) throws -> [OutboxEntry]
    func update(_ entries: [OutboxEntry]) throws
    func outbox() throws -> [OutboxEntry]
    func job(id: String) throws -> JobRecord?
    func jobs(in states: [JobState]) throws -> [JobRecord]
    func allJobs() throws -> [JobRecord]
    /// Every job of one series, oldest first.
    func jobs(seriesUID uid: String) throws -> [JobRecord]
    /// The finished job that produced `<output>/<uid>`, if any.
    func doneJob(seriesUID uid: String) throws -> JobRecord?
    func counts() throws -> [JobState: Int]

    // MARK: Leases: several workers on one ledger

    /// Records that the worker is alive now, by the ledger's clock (its row is created the first
    /// time; `state` and `pid` are written as given).
    func heartbeat(_ worker: WorkerRecord) throws
    /// Every worker that has beaten, with its heartbeat's age and the unfinished jobs it holds.
    func workers() throws -> [WorkerStatus]
    /// Takes up to `limit` jobs in `states` that no live worker holds, oldest first, for `worker`:
    /// jobs without a holder, or whose holder's last heartbeat is older than `leaseSeconds`, or
    /// (with `includingOwn`, for a worker starting again under its old name) its own. Rows
    /// another worker is taking at the same moment are skipped, not waited for. Each taken job's
    /// generation is raised, fencing out whoever held it before.
    func acquire(states: [JobState], for worker: String, leaseSeconds: Double, includingOwn: Bool, limit: Int)
        throws -> [JobRecord]
    /// Whether this worker may claim the files of one watch folder now: false while another
    /// worker on the ledger is claiming from it (workers sharing a watch folder). Held until
    /// `endIntake`, or until this worker's connection to the ledger ends.
    func beginIntake(_ folder: String) throws -> Bool
    func endIntake(_ folder: String) throws
    /// Takes up to `limit` queued jobs that other workers claimed but have not started for
    /// `waitingSeconds` (by `now`, this worker's clock) and that are due: an idle worker
    /// helping with another's backlog. The holder's start of such a job is then fenced out.
    func takeBacklog(for worker: String, waitingSeconds: Double, now: Double, limit: Int) throws -> [JobRecord]
    /// Takes these jobs for `worker` (nil: no holder) whoever holds them, generation raised,
    /// fenced on the generation each was read with: the earlier jobs of a series whose inputs a
    /// later job gathers. Returns them as taken.
    func take(_ jobs: [JobRecord], for worker: String?) throws -> [JobRecord]
    /// Records `job` (its attempt starting: state running), fenced like `update`, unless another
    /// job of its series is running on any worker; then writes nothing and returns false. Two
    /// workers starting jobs of one series at once: one starts, the other waits.
    func startAttempt(_ job: JobRecord) throws -> Bool
}

extension JobLedger {
    /// Hands jobs back (no holder, generation raised), fenced like `update`: a draining worker's
    /// jobs, for any other worker to take at once.
    public func release(_ jobs: [JobRecord]) throws { _ = try take(jobs, for: nil) }

    public func dueOutbox(now: Double) throws -> [OutboxEntry] { try dueOutbox(now: now, limit: 100) }
}

/// Opens the ledger a configuration names.
public enum JobLedgers {
    /// The daemon's ledger: PostgreSQL when `[ledger] url` is set, else `<work>/ledger.sqlite`.
    public static func open(_ configuration: DaemonConfiguration) throws -> any JobLedger {
        configuration.ledgerURL.isEmpty
            ? try SQLiteJobLedger(path: configuration.ledgerPath)
            : try PostgresJobLedger(url: configuration.ledgerURL)
    }

    /// For `lcovnet status` while the daemon runs: SQLite read-only; PostgreSQL as it is.
    public static func openForReading(_ configuration: DaemonConfiguration) throws -> any JobLedger {
        configuration.ledgerURL.isEmpty
            ? try SQLiteJobLedger(readOnlyPath: configuration.ledgerPath)
            : try PostgresJobLedger(url: configuration.ledgerURL)
    }
}

/// Why the ledger could not do what it was asked.
public enum LedgerError: Error, CustomStringConvertible, Sendable {
    /// The database cannot be reached (intake waits for it).
    case unavailable(String)
    /// The database refused a statement (SQLSTATE code alongside).
    case statement(String, sqlState: String)
    /// A row the ledger wrote cannot be read back.
    case malformedRow(String)
    /// Another worker took the job since this worker read it (this one stalled past its lease):
    /// nothing was written, and this worker must leave the job alone.
    case leaseLost(job: String, holder: String?)

    public var description: String {
        switch self {
        case .unavailable(let reason): "job ledger unavailable: \(reason)"
        case .statement(let reason, let state): "job ledger: \(reason)\(state.isEmpty ? "" : " [\(state)]")"
        case .malformedRow(let reason): "job ledger: \(reason)"
        case .leaseLost(let job, let holder):
            "job ledger: job \(job) was taken by \(holder.map { "worker \($0)" } ?? "no worker") (lease lost)"
        }
    }
}
