import Foundation

/// Leases on the shared ledger, as job queues on PostgreSQL take work (river, graphile-worker):
/// rows taken with `FOR UPDATE SKIP LOCKED`, so workers taking jobs together never take the same
/// one and never wait on each other; times by the server's clock, so hosts' clocks need not agree.
/// The holder's liveness is a sub-select, not a join: a row another worker took while this
/// statement ran is checked again as it is now (PostgreSQL re-evaluates sub-selects on the
/// newest row version, but keeps a join's other side as first read).
extension PostgresJobLedger {
    static let serverNow = "extract(epoch from clock_timestamp())::double precision"
    private static let unfinished = JobState.unfinished.map(\.rawValue)

    public func heartbeat(_ worker: WorkerRecord) throws {
        try run { (c) throws(LedgerError) in
            _ = try c.execute(
                """
                INSERT INTO worker (id, host, pid, state, started_at, heartbeat_at)
                VALUES ($1, $2, $3::integer, $4, \(Self.serverNow), \(Self.serverNow))
                ON CONFLICT (id) DO UPDATE SET host = EXCLUDED.host, pid = EXCLUDED.pid, state = EXCLUDED.state,
                    heartbeat_at = EXCLUDED.heartbeat_at,
                    started_at = CASE WHEN worker.pid = EXCLUDED.pid AND worker.host = EXCLUDED.host
                                      THEN worker.started_at ELSE EXCLUDED.started_at END
                """, [worker.id, worker.host, "\(worker.pid)", worker.state.rawValue])
        }
    }

    public func workers() throws -> [WorkerStatus] {
        try run { (c) throws(LedgerError) in
            try c.execute(
                """
                SELECT w.id, w.host, w.pid, w.state, w.started_at, w.heartbeat_at, \(Self.serverNow) - w.heartbeat_at,
                    (SELECT COUNT(*) FROM job j WHERE j.lease_holder = w.id AND j.state = ANY($1::text[]))
                FROM worker w ORDER BY w.id
                """, [Self.textArray(Self.unfinished)]
            )
            .map { row throws(LedgerError) in
                guard let id = row[0], let host = row[1], let pid = row[2].flatMap({ Int($0) }),
                    let state = row[3].flatMap(WorkerRecord.State.init(rawValue:)),
                    let started = row[4].flatMap(Double.init), let beat = row[5].flatMap(Double.init),
                    let age = row[6].flatMap(Double.init), let held = row[7].flatMap({ Int($0) })
                else { throw LedgerError.malformedRow("worker \(row[0] ?? "?") cannot be read") }
                var worker = WorkerRecord(id: id, host: host, pid: pid, state: state)
                worker.startedAt = started
                worker.heartbeatAt = beat
                return WorkerStatus(worker: worker, heartbeatAge: age, heldJobs: held)
            }
        }
    }

    public func acquire(
        states: [JobState], for worker: String, leaseSeconds: Double, includingOwn: Bool, limit: Int
    ) throws -> [JobRecord] {
        try take(
            for: worker, limit: limit,
            where: """
                j.state = ANY($3::text[])
                  AND (j.lease_holder IS NULL OR (j.lease_holder = $1 AND $4::boolean)
                       OR (j.lease_holder <> $1 AND NOT EXISTS (
                           SELECT 1 FROM worker w WHERE w.id = j.lease_holder
                             AND w.heartbeat_at >= \(Self.serverNow) - $5::double precision)))
                """,
            [Self.textArray(states.map(\.rawValue)), includingOwn ? "true" : "false", "\(leaseSeconds)"])
    }

    /// Up to `limit` jobs matching `condition` (on `job j`; $1 is the worker, $2 the limit, the
    /// rest `parameters`), oldest first, skipping rows another worker is locking, taken for
    /// `worker` with their generation raised.
    private func take(for worker: String, limit: Int, where condition: String, _ parameters: [String?]) throws
        -> [JobRecord]
    {
        try run { (c) throws(LedgerError) in
            try c.execute(
                """
                UPDATE job SET lease_holder = $1, lease_generation = job.lease_generation + 1
                WHERE id IN (
                    SELECT j.id FROM job j WHERE \(condition)
                    ORDER BY j.id LIMIT $2::integer
                    FOR UPDATE SKIP LOCKED)
                RETURNING \(Self.jobColumns.joined(separator: ", "))
                """, [worker, "\(max(0, limit))"] + parameters
            )
            .map { row throws(LedgerError) in try Self.job(row) }
            .sorted { $0.id < $1.id }
        }
    }

    public func take(_ jobs: [JobRecord], for worker: String?) throws -> [JobRecord] {
        try run { (c) throws(LedgerError) in
            try c.transaction { () throws(LedgerError) in
                try jobs.map { job throws(LedgerError) in
                    let rows = try c.execute(
                        """
                        UPDATE job SET lease_holder = $3, lease_generation = lease_generation + 1
                        WHERE id = $1 AND lease_generation = $2::integer RETURNING \(Self.jobColumns.joined(separator: ", "))
                        """, [job.id, "\(job.leaseGeneration)", worker])
                    guard let row = rows.first else { throw try Self.missingOrTaken(job.id, c) }
                    return try Self.job(row)
                }
            }
        }
    }

    /// Starters of one series serialize on a transaction-scoped advisory lock keyed by the
    /// series; the second sees the first's committed running row (a new statement's snapshot).
    public func startAttempt(_ job: JobRecord) throws -> Bool {
        try run { (c) throws(LedgerError) in
            try c.transaction { () throws(LedgerError) in
                if let uid = job.seriesUID {
                    try c.execute("SELECT pg_advisory_xact_lock(7420115, hashtext($1))", [uid])
                    let busy = try c.execute(
                        "SELECT 1 FROM job WHERE series_uid = $1 AND state = $2 AND id <> $3 LIMIT 1",
                        [uid, JobState.running.rawValue, job.id])
                    if !busy.isEmpty { return false }
                }
                try Self.update(job, c)
                return true
            }
        }
    }

    public func takeBacklog(for worker: String, waitingSeconds: Double, now: Double, limit: Int) throws -> [JobRecord] {
        try take(
            for: worker, limit: limit,
            where: """
                j.state = $3 AND j.step = $4 AND j.lease_holder IS DISTINCT FROM $1
                  AND j.queued_at < $5::double precision - $6::double precision
                  AND (j.next_attempt_at IS NULL OR j.next_attempt_at <= $5::double precision)
                """,
            [JobState.queued.rawValue, JobStep.claimed.rawValue, "\(now)", "\(waitingSeconds)"])
    }

    /// A session advisory lock keyed by the folder, on this ledger's connection: released by
    /// `endIntake`, or by the server when the connection ends (a killed worker holds nothing).
    /// A connection lost mid-claim loses the lock; two workers may then split a folder's files
    /// into two jobs of one series, which the later job's gathering joins again.
    public func beginIntake(_ folder: String) throws -> Bool {
        try run { (c) throws(LedgerError) in
            try c.execute("SELECT pg_try_advisory_lock(7420116, hashtext($1))", [folder]).first?.first == "t"
        }
    }

    public func endIntake(_ folder: String) throws {
        try run { (c) throws(LedgerError) in
            _ = try c.execute("SELECT pg_advisory_unlock(7420116, hashtext($1))", [folder], retry: false)
        }
    }
}
