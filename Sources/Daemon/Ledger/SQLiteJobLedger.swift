import Foundation
import GRDB

/// The embedded job ledger: one SQLite file (WAL, synchronous=FULL) holding every series' state.
/// Each transition is one committed transaction, so a kill at any instant leaves the last step durable.
public final class SQLiteJobLedger: JobLedger {
    let database: DatabasePool

    /// Opens (creating and migrating) the ledger for the daemon.
    public init(path: String) throws {
        var configuration = Configuration()
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        configuration.busyMode = .timeout(10)
        database = try DatabasePool(path: path, configuration: configuration)
        try Self.migrator.migrate(database)
    }

    /// Opens an existing ledger read-only (for `lcovnet status`, while the daemon runs).
    public init(readOnlyPath path: String) throws {
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(10)
        database = try DatabasePool(path: path, configuration: configuration)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: jobs") { db in
            try db.create(table: "job") { t in
                t.primaryKey("id", .text)
                t.column("series_uid", .text)
                t.column("source", .text).notNull()
                t.column("state", .text).notNull()
                t.column("step", .text).notNull()
                t.column("attempts", .integer).notNull().defaults(to: 0)
                t.column("file_count", .integer).notNull()
                t.column("input_bytes", .integer).notNull()
                t.column("created_at", .double).notNull()
                t.column("queued_at", .double)
                t.column("started_at", .double)
                t.column("finished_at", .double)
                t.column("next_attempt_at", .double)
                t.column("reason_code", .text)
                t.column("reason", .text)
                t.column("result_dir", .text)
                t.column("duration_ms", .integer)
            }
            try db.create(index: "job_state", on: "job", columns: ["state"])
            try db.create(index: "job_series", on: "job", columns: ["series_uid"])
        }
        migrator.registerMigration("v2: outbox") { db in
            try db.create(table: "outbox") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("job_id", .text).notNull()
                t.column("series_uid", .text)
                t.column("destination", .text).notNull()
                t.column("file", .text).notNull()
                t.column("state", .text).notNull()
                t.column("attempts", .integer).notNull().defaults(to: 0)
                t.column("created_at", .double).notNull()
                t.column("next_attempt_at", .double).notNull()
                t.column("sent_at", .double)
                t.column("last_error", .text)
                t.uniqueKey(["job_id", "destination", "file"])
            }
            try db.create(index: "outbox_due", on: "outbox", columns: ["state", "next_attempt_at"])
        }
        migrator.registerMigration("v3: leases") { db in
            try db.alter(table: "job") { t in
                t.add(column: "lease_holder", .text)
                t.add(column: "lease_generation", .integer).notNull().defaults(to: 0)
            }
            try db.create(table: "worker") { t in
                t.primaryKey("id", .text)
                t.column("host", .text).notNull()
                t.column("pid", .integer).notNull()
                t.column("state", .text).notNull()
                t.column("started_at", .double).notNull()
                t.column("heartbeat_at", .double).notNull()
            }
        }
        return migrator
    }

    public func insert(_ job: JobRecord) throws {
        try database.write { db in try job.insert(db) }
    }

    public func update(_ job: JobRecord) throws {
        try database.write { db in try Self.fencedUpdate(job, db) }
    }

    /// Several rows in one transaction (a job and the earlier jobs whose inputs it takes).
    public func update(_ jobs: [JobRecord]) throws {
        try database.write { db in
            for job in jobs { try Self.fencedUpdate(job, db) }
        }
    }

    /// The row is written only if its lease generation is still the record's (the write
    /// transaction holds SQLite's one writer lock, so nothing changes between check and write).
    static func fencedUpdate(_ job: JobRecord, _ db: Database) throws {
        try checkLease(job, db)
        try job.update(db)
    }

    /// Throws `leaseLost` when the row's generation is no longer the record's.
    static func checkLease(_ job: JobRecord, _ db: Database) throws {
        if let row = try Row.fetchOne(
            db, sql: "SELECT lease_holder, lease_generation FROM job WHERE id = ?", arguments: [job.id]),
            row["lease_generation"] as Int != job.leaseGeneration
        {
            throw LedgerError.leaseLost(job: job.id, holder: row["lease_holder"])
        }
    }

    /// The job and the result objects it owes the DICOM destinations, in one transaction (an
    /// entry already there, from a commit a kill interrupted, is kept as it is). An earlier job's
    /// entry for the same file still pending is abandoned: the file is now this job's result
    /// (late files replaced the series' result in place), sent once under the new entry.
    public func update(_ job: JobRecord, owing outbox: [OutboxEntry]) throws {
        try database.write { db in
            try Self.fencedUpdate(job, db)
            for var entry in outbox {
                try db.execute(
                    sql: """
                        UPDATE outbox SET state = ?, last_error = ? WHERE destination = ? AND file = ? AND state = ? AND job_id != ?
                        """,
                    arguments: [
                        OutboxEntry.State.abandoned.rawValue, "replaced by a later result of the series",
                        entry.destination, entry.file, OutboxEntry.State.pending.rawValue, entry.jobID
                    ])
                try entry.insert(db, onConflict: .ignore)
            }
        }
    }

    /// Pending entries due by `now`, oldest first.
    public func dueOutbox(now: Double, limit: Int) throws -> [OutboxEntry] {
        try database.read { db in
            try OutboxEntry.filter(
                Column("state") == OutboxEntry.State.pending.rawValue && Column("next_attempt_at") <= now
            )
            .order(Column("id")).limit(limit).fetchAll(db)
        }
    }

    public func update(_ entries: [OutboxEntry]) throws {
        try database.write { db in for entry in entries { try entry.update(db) } }
    }

    public func outbox() throws -> [OutboxEntry] {
        try database.read { db in try OutboxEntry.order(Column("id")).fetchAll(db) }
    }

    public func job(id: String) throws -> JobRecord? {
        try database.read { db in try JobRecord.fetchOne(db, key: id) }
    }

    public func jobs(in states: [JobState]) throws -> [JobRecord] {
        try database.read { db in
            try JobRecord.filter(states.map(\.rawValue).contains(Column("state"))).order(Column("id")).fetchAll(db)
        }
    }

    public func allJobs() throws -> [JobRecord] {
        try database.read { db in try JobRecord.order(Column("id")).fetchAll(db) }
    }

    /// Every job of one series, oldest first.
    public func jobs(seriesUID uid: String) throws -> [JobRecord] {
        try database.read { db in try JobRecord.filter(Column("series_uid") == uid).order(Column("id")).fetchAll(db) }
    }

    /// The finished job that produced `<output>/<uid>`, if any.
    public func doneJob(seriesUID uid: String) throws -> JobRecord? {
        try database.read { db in
            try JobRecord.filter(
                Column("series_uid") == uid && Column("state") == JobState.done.rawValue
                    && Column("result_dir") != nil
            ).order(Column("id").desc).fetchOne(db)
        }
    }

    public func counts() throws -> [JobState: Int] {
        try database.read { db in
            var result: [JobState: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS n FROM job GROUP BY state") {
                if let state = JobState(rawValue: row["state"]) { result[state] = row["n"] }
            }
            return result
        }
    }
}
