import Foundation

/// The job ledger on PostgreSQL (`[ledger] url`): the same tables, states and transactions as
/// SQLiteJobLedger, on a server several workers can share. Calls are serialized on one libpq
/// connection; each is one transaction, committed before it returns.
public final class PostgresJobLedger: JobLedger, @unchecked Sendable {
    // The connection is only touched under the lock.
    private let connection: PostgresConnection
    private let lock = NSLock()

    /// Connects and brings the schema up to date (under an advisory lock, so workers starting
    /// together migrate once). Several workers share the ledger through leases on its jobs.
    public init(url: String) throws {
        let connection = try PostgresConnection(url: url)
        try connection.transaction { () throws(LedgerError) in
            try connection.execute("SELECT pg_advisory_xact_lock(7420113)")
            try connection.execute(
                "CREATE TABLE IF NOT EXISTS ledger_migration (name text PRIMARY KEY, applied_at double precision NOT NULL)"
            )
            let applied = Set(try connection.execute("SELECT name FROM ledger_migration").compactMap { $0[0] })
            for (name, statements) in Self.migrations where !applied.contains(name) {
                for statement in statements { try connection.execute(statement) }
                try connection.execute(
                    "INSERT INTO ledger_migration (name, applied_at) VALUES ($1, $2)",
                    [name, "\(Date().timeIntervalSince1970)"])
            }
        }
        self.connection = connection
    }

    /// Named as SQLiteJobLedger's migrations; applied in this order, each once.
    static let migrations: [(String, [String])] = [
        (
            "v1: jobs",
            [
                """
                CREATE TABLE job (
                    id text PRIMARY KEY, series_uid text, source text NOT NULL, state text NOT NULL, step text NOT NULL,
                    attempts integer NOT NULL DEFAULT 0, file_count integer NOT NULL, input_bytes bigint NOT NULL,
                    created_at double precision NOT NULL, queued_at double precision, started_at double precision,
                    finished_at double precision, next_attempt_at double precision, reason_code text, reason text,
                    result_dir text, duration_ms integer)
                """, "CREATE INDEX job_state ON job (state)", "CREATE INDEX job_series ON job (series_uid)"
            ]
        ),
        (
            "v2: outbox",
            [
                """
                CREATE TABLE outbox (
                    id bigserial PRIMARY KEY, job_id text NOT NULL, series_uid text, destination text NOT NULL, file text NOT NULL,
                    state text NOT NULL, attempts integer NOT NULL DEFAULT 0, created_at double precision NOT NULL,
                    next_attempt_at double precision NOT NULL, sent_at double precision, last_error text,
                    UNIQUE (job_id, destination, file))
                """, "CREATE INDEX outbox_due ON outbox (state, next_attempt_at)"
            ]
        ),
        (
            "v3: leases",
            [
                "ALTER TABLE job ADD COLUMN lease_holder text, ADD COLUMN lease_generation integer NOT NULL DEFAULT 0",
                "CREATE INDEX job_lease ON job (lease_holder)",
                """
                CREATE TABLE worker (
                    id text PRIMARY KEY, host text NOT NULL, pid integer NOT NULL, state text NOT NULL,
                    started_at double precision NOT NULL, heartbeat_at double precision NOT NULL)
                """
            ]
        )
    ]

    func run<T>(_ body: (PostgresConnection) throws(LedgerError) -> T) throws -> T {
        try lock.withLock { () throws(LedgerError) -> T in try body(connection) }
    }

    // MARK: Jobs

    public func insert(_ job: JobRecord) throws {
        try run { (c) throws(LedgerError) in try Self.insert(job, c) }
    }

    public func update(_ job: JobRecord) throws {
        try run { (c) throws(LedgerError) in try Self.update(job, c) }
    }

    public func update(_ jobs: [JobRecord]) throws {
        try run { (c) throws(LedgerError) in
            try c.transaction { () throws(LedgerError) in for job in jobs { try Self.update(job, c) } }
        }
    }

    public func update(_ job: JobRecord, owing outbox: [OutboxEntry]) throws {
        try run { (c) throws(LedgerError) in
            try c.transaction { () throws(LedgerError) in
                try Self.update(job, c)
                for entry in outbox {
                    try c.execute(
                        """
                        UPDATE outbox SET state = $1, last_error = $2 WHERE destination = $3 AND file = $4 AND state = $5 AND job_id <> $6
                        """,
                        [
                            OutboxEntry.State.abandoned.rawValue, "replaced by a later result of the series",
                            entry.destination, entry.file,
                            OutboxEntry.State.pending.rawValue, entry.jobID
                        ])
                    let values = Self.outboxValues(entry)
                    try c.execute(
                        "INSERT INTO outbox (\(Self.outboxColumns.joined(separator: ", "))) VALUES (\(Self.placeholders(values.count))) "
                            + "ON CONFLICT (job_id, destination, file) DO NOTHING", values)
                }
            }
        }
    }

    public func job(id: String) throws -> JobRecord? {
        try jobs(where: "id = $1", [id]).first
    }

    public func jobs(in states: [JobState]) throws -> [JobRecord] {
        try jobs(where: "state = ANY($1::text[])", [Self.textArray(states.map(\.rawValue))])
    }

    public func allJobs() throws -> [JobRecord] { try jobs(where: "true", []) }

    public func jobs(seriesUID uid: String) throws -> [JobRecord] {
        try jobs(where: "series_uid = $1", [uid])
    }

    public func doneJob(seriesUID uid: String) throws -> JobRecord? {
        try jobs(
            where: "series_uid = $1 AND state = $2 AND result_dir IS NOT NULL", [uid, JobState.done.rawValue],
            order: "id DESC"
        ).first
    }

    public func counts() throws -> [JobState: Int] {
        try run { (c) throws(LedgerError) in
            var result: [JobState: Int] = [:]
            for row in try c.execute("SELECT state, COUNT(*) FROM job GROUP BY state") {
                if let state = row[0].flatMap(JobState.init(rawValue:)), let n = row[1].flatMap({ Int($0) }) {
                    result[state] = n
                }
            }
            return result
        }
    }

    private func jobs(where condition: String, _ parameters: [String?], order: String = "id") throws -> [JobRecord] {
        try run { (c) throws(LedgerError) in
            try c.execute(
                "SELECT \(Self.jobColumns.joined(separator: ", ")) FROM job WHERE \(condition) ORDER BY \(order)",
                parameters
            )
            .map { row throws(LedgerError) in try Self.job(row) }
        }
    }

    // MARK: Outbox

    public func dueOutbox(now: Double, limit: Int) throws -> [OutboxEntry] {
        try outbox(
            where: "state = $1 AND next_attempt_at <= $2 ORDER BY id LIMIT \(max(0, limit))",
            [OutboxEntry.State.pending.rawValue, "\(now)"])
    }

    public func update(_ entries: [OutboxEntry]) throws {
        try run { (c) throws(LedgerError) in
            try c.transaction { () throws(LedgerError) in
                for entry in entries {
                    guard let id = entry.id else {
                        throw LedgerError.malformedRow("an outbox entry without id cannot be updated")
                    }
                    let values = Self.outboxValues(entry)
                    let assignments = Self.outboxColumns.enumerated().map { "\($1) = $\($0 + 2)" }.joined(
                        separator: ", ")
                    let rows = try c.execute(
                        "UPDATE outbox SET \(assignments) WHERE id = $1 RETURNING id", ["\(id)"] + values)
                    guard rows.count == 1 else { throw LedgerError.statement("no outbox entry \(id)", sqlState: "") }
                }
            }
        }
    }

    public func outbox() throws -> [OutboxEntry] { try outbox(where: "true ORDER BY id", []) }

    private func outbox(where condition: String, _ parameters: [String?]) throws -> [OutboxEntry] {
        try run { (c) throws(LedgerError) in
            try c.execute(
                "SELECT id, \(Self.outboxColumns.joined(separator: ", ")) FROM outbox WHERE \(condition)", parameters
            )
            .map { row throws(LedgerError) in try Self.outboxEntry(row) }
        }
    }

    // MARK: Rows as text

    static let jobColumns = [
        "id", "series_uid", "source", "state", "step", "attempts", "file_count", "input_bytes", "created_at",
        "queued_at",
        "started_at", "finished_at", "next_attempt_at", "reason_code", "reason", "result_dir", "duration_ms",
        "lease_holder", "lease_generation"
    ]
    static let outboxColumns = [
        "job_id", "series_uid", "destination", "file", "state", "attempts", "created_at", "next_attempt_at",
        "sent_at", "last_error"
    ]

    private static func insert(_ job: JobRecord, _ c: PostgresConnection) throws(LedgerError) {
        let values = jobValues(job)
        try c.execute(
            "INSERT INTO job (\(jobColumns.joined(separator: ", "))) VALUES (\(placeholders(values.count)))", values)
    }

    /// Fenced: the row is written only while its lease generation is the record's. A worker
    /// taking the job at the same moment holds the row's lock; this statement waits for it and
    /// then finds the raised generation.
    static func update(_ job: JobRecord, _ c: PostgresConnection) throws(LedgerError) {
        let assignments = jobColumns.enumerated().dropFirst().map { "\($1) = $\($0 + 1)" }.joined(separator: ", ")
        let generation = jobColumns.firstIndex(of: "lease_generation")! + 1
        let rows = try c.execute(
            "UPDATE job SET \(assignments) WHERE id = $1 AND lease_generation = $\(generation) RETURNING id",
            jobValues(job))
        if rows.count != 1 { throw try missingOrTaken(job.id, c) }
    }

    /// Why a fenced statement matched no row: the job is not there, or another worker took it.
    static func missingOrTaken(_ id: String, _ c: PostgresConnection) throws(LedgerError) -> LedgerError {
        guard let row = try c.execute("SELECT lease_holder FROM job WHERE id = $1", [id]).first else {
            return LedgerError.statement("no job \(id)", sqlState: "")
        }
        return LedgerError.leaseLost(job: id, holder: row[0])
    }

    static func jobValues(_ j: JobRecord) -> [String?] {
        [
            j.id, j.seriesUID, j.source, j.state.rawValue, j.step.rawValue, "\(j.attempts)", "\(j.fileCount)",
            "\(j.inputBytes)", "\(j.createdAt)",
            j.queuedAt.map { "\($0)" }, j.startedAt.map { "\($0)" }, j.finishedAt.map { "\($0)" },
            j.nextAttemptAt.map { "\($0)" },
            j.reasonCode, j.reason, j.resultDir, j.durationMS.map { "\($0)" }, j.leaseHolder, "\(j.leaseGeneration)"
        ]
    }

    static func job(_ row: [String?]) throws(LedgerError) -> JobRecord {
        let id = row[0] ?? ""
        func required<T>(_ index: Int, _ parse: (String) -> T?) throws(LedgerError) -> T {
            guard let text = row[index], let value = parse(text) else {
                throw LedgerError.malformedRow("job \(id): \(jobColumns[index]) is \(row[index] ?? "NULL")")
            }
            return value
        }
        var job = JobRecord(
            id: try required(0) { $0 }, seriesUID: row[1], source: try required(2) { $0 },
            state: try required(3, JobState.init(rawValue:)), step: try required(4, JobStep.init(rawValue:)),
            fileCount: try required(6) { Int($0) }, inputBytes: try required(7) { Int64($0) },
            createdAt: try required(8) { Double($0) })
        job.attempts = try required(5) { Int($0) }
        job.queuedAt = row[9].flatMap(Double.init)
        job.startedAt = row[10].flatMap(Double.init)
        job.finishedAt = row[11].flatMap(Double.init)
        job.nextAttemptAt = row[12].flatMap(Double.init)
        job.reasonCode = row[13]
        job.reason = row[14]
        job.resultDir = row[15]
        job.durationMS = row[16].flatMap { Int($0) }
        job.leaseHolder = row[17]
        job.leaseGeneration = try required(18) { Int($0) }
        return job
    }

    static func outboxValues(_ e: OutboxEntry) -> [String?] {
        [
            e.jobID, e.seriesUID, e.destination, e.file, e.state.rawValue, "\(e.attempts)", "\(e.createdAt)",
            "\(e.nextAttemptAt)",
            e.sentAt.map { "\($0)" }, e.lastError
        ]
    }

    static func outboxEntry(_ row: [String?]) throws(LedgerError) -> OutboxEntry {
        guard let id = row[0].flatMap({ Int64($0) }), let jobID = row[1], let destination = row[3], let file = row[4],
            let state = row[5].flatMap(OutboxEntry.State.init(rawValue:)), let attempts = row[6].flatMap({ Int($0) }),
            let created = row[7].flatMap(Double.init), let next = row[8].flatMap(Double.init)
        else {
            throw LedgerError.malformedRow("outbox entry \(row[0] ?? "?") cannot be read")
        }
        var entry = OutboxEntry(jobID: jobID, seriesUID: row[2], destination: destination, file: file, now: created)
        entry.id = id
        entry.state = state
        entry.attempts = attempts
        entry.nextAttemptAt = next
        entry.sentAt = row[9].flatMap(Double.init)
        entry.lastError = row[10]
        return entry
    }

    static func placeholders(_ count: Int) -> String { (1...count).map { "$\($0)" }.joined(separator: ", ") }

    /// A text[] literal: each element quoted, backslashes and quotes escaped.
    static func textArray(_ values: [String]) -> String {
        "{"
            + values.map {
                "\"" + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
                    + "\""
            }
            .joined(separator: ",") + "}"
    }
}
