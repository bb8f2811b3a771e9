import Foundation
import GRDB

/// Leases on the embedded ledger. One host holds it (the work folder's lock), so these serve
/// one worker taking back its jobs after a restart; the same calls as on PostgreSQL keep the
/// daemon's code one path.
extension SQLiteJobLedger {
    private static var now: Double { Date().timeIntervalSince1970 }

    public func heartbeat(_ worker: WorkerRecord) throws {
        try database.write { db in
            let now = Self.now
            var row = worker
            row.heartbeatAt = now
            row.startedAt =
                try Double.fetchOne(
                    db, sql: "SELECT started_at FROM worker WHERE id = ?", arguments: [worker.id]) ?? now
            try row.save(db)
        }
    }

    public func workers() throws -> [WorkerStatus] {
        try database.read { db in
            let now = Self.now
            let held = try Row.fetchAll(
                db,
                sql: """
                    SELECT lease_holder, COUNT(*) AS n FROM job
                    WHERE state IN (\(JobState.unfinished.map { _ in "?" }.joined(separator: ", "))) GROUP BY lease_holder
                    """,
                arguments: StatementArguments(JobState.unfinished.map(\.rawValue))
            )
            .reduce(into: [String: Int]()) { counts, row in
                if let holder: String = row["lease_holder"] { counts[holder] = row["n"] }
            }
            return try WorkerRecord.order(Column("id")).fetchAll(db).map {
                WorkerStatus(worker: $0, heartbeatAge: now - $0.heartbeatAt, heldJobs: held[$0.id] ?? 0)
            }
        }
    }

    public func acquire(
        states: [JobState], for worker: String, leaseSeconds: Double, includingOwn: Bool, limit: Int
    ) throws -> [JobRecord] {
        try database.write { db in
            let states = states.map(\.rawValue)
            let candidates = try JobRecord.fetchAll(
                db,
                sql: """
                    SELECT job.* FROM job LEFT JOIN worker ON worker.id = job.lease_holder
                    WHERE job.state IN (\(states.map { _ in "?" }.joined(separator: ", ")))
                      AND (job.lease_holder IS NULL OR (job.lease_holder = ? AND ?)
                           OR (job.lease_holder <> ? AND (worker.id IS NULL OR worker.heartbeat_at < ?)))
                    ORDER BY job.id LIMIT ?
                    """,
                arguments: StatementArguments(states)
                    + [worker, includingOwn, worker, Self.now - leaseSeconds, max(0, limit)])
            return try candidates.map { try Self.hand($0, to: worker, db) }
        }
    }

    /// The row under `worker`'s lease (nil: none), its generation raised; the caller has checked
    /// that it may (a take's conditions, or the generation it read).
    private static func hand(_ job: JobRecord, to worker: String?, _ db: Database) throws -> JobRecord {
        var handed = job
        handed.leaseHolder = worker
        handed.leaseGeneration = job.leaseGeneration + 1
        try handed.update(db)
        return handed
    }

    public func take(_ jobs: [JobRecord], for worker: String?) throws -> [JobRecord] {
        try database.write { db in
            try jobs.map { job in
                try Self.checkLease(job, db)
                return try Self.hand(job, to: worker, db)
            }
        }
    }

    public func startAttempt(_ job: JobRecord) throws -> Bool {
        try database.write { db in
            if let uid = job.seriesUID,
                try Bool.fetchOne(
                    db, sql: "SELECT EXISTS (SELECT 1 FROM job WHERE series_uid = ? AND state = ? AND id <> ?)",
                    arguments: [uid, JobState.running.rawValue, job.id]) == true
            {
                return false
            }
            try Self.fencedUpdate(job, db)
            return true
        }
    }

    public func takeBacklog(for worker: String, waitingSeconds: Double, now: Double, limit: Int) throws -> [JobRecord] {
        try database.write { db in
            try JobRecord.fetchAll(
                db,
                sql: """
                    SELECT * FROM job WHERE state = ? AND step = ? AND lease_holder IS NOT ? AND queued_at < ?
                      AND (next_attempt_at IS NULL OR next_attempt_at <= ?)
                    ORDER BY id LIMIT ?
                    """,
                arguments: [
                    JobState.queued.rawValue, JobStep.claimed.rawValue, worker, now - waitingSeconds, now,
                    max(0, limit)
                ]
            )
            .map { try Self.hand($0, to: worker, db) }
        }
    }

    /// One host holds an embedded ledger (the work folder's lock): no other worker claims.
    public func beginIntake(_ folder: String) throws -> Bool { true }
    public func endIntake(_ folder: String) throws {}
}
