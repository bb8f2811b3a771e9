import GRDB

/// Where a series stands, as `lcovnet status` shows it.
public enum JobState: String, Codable, Sendable, CaseIterable, DatabaseValueConvertible {
    /// Files are arriving in the watch folder; not yet claimed.
    case receiving
    /// Claimed into the spool, waiting for a slot (or for its retry time).
    case queued
    case running
    /// Results committed under the output folder.
    case done
    /// Gave up after `max_attempts`; the inputs stay in the spool.
    case failed
    /// Moved to the quarantine folder with reason.json.
    case quarantined

    /// The states of a job not finished yet: under a worker's lease, resumed after a crash.
    public static let unfinished: [JobState] = [.receiving, .queued, .running]
}

/// The last durable step of a job: a restart resumes from here and never redoes a finished step.
public enum JobStep: String, Codable, Sendable, CaseIterable, DatabaseValueConvertible {
    /// claim.json is written; input files are being renamed into the spool.
    case claiming
    /// Every input file is in the spool.
    case claimed
    /// The inputs an earlier job of the same series still holds are being moved into this
    /// job's input folder (gather.json lists them), so that it processes the whole series.
    case gathering
    /// The processor is writing into the job's staging folder.
    case processing
    /// The staging folder is complete; it is being renamed to the result folder.
    case committing
    /// The result folder is in place; the inputs are being kept, archived or deleted.
    case retaining
    /// Inputs are moving to the quarantine folder with reason.json.
    case quarantining
    /// Nothing left to do.
    case finished
}

/// One row of the ledger: one series (or, for files that are not DICOM, one batch of them).
public struct JobRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "job"

    enum CodingKeys: String, CodingKey {
        case id, seriesUID = "series_uid", source, state, step, attempts, fileCount = "file_count", inputBytes =
            "input_bytes"
        case createdAt = "created_at", queuedAt = "queued_at", startedAt = "started_at", finishedAt = "finished_at"
        case nextAttemptAt = "next_attempt_at", reasonCode = "reason_code", reason, resultDir = "result_dir",
            durationMS = "duration_ms"
        case leaseHolder = "lease_holder", leaseGeneration = "lease_generation"
    }

    /// Time-ordered and unique: "j" + UTC time + random suffix; names the spool folder.
    public var id: String
    /// The SeriesInstanceUID once the headers are read (nil for a batch of unreadable files).
    public var seriesUID: String?
    /// The folder the files came from, relative to the watch folder ("" for the top).
    public var source: String
    public var state: JobState
    public var step: JobStep
    /// Processing attempts started (a crash during one counts).
    public var attempts: Int
    public var fileCount: Int
    public var inputBytes: Int64
    /// Unix times in seconds.
    public var createdAt: Double
    public var queuedAt: Double?
    public var startedAt: Double?
    public var finishedAt: Double?
    /// A queued job waits until then before its next attempt (transient errors back off).
    public var nextAttemptAt: Double?
    /// Stable reason code (ingest codes, or the daemon's own) and one sentence.
    public var reasonCode: String?
    public var reason: String?
    /// `<output>/<SeriesInstanceUID>` once committed, or the quarantine folder.
    public var resultDir: String?
    /// Wall time of the last processing attempt.
    public var durationMS: Int?
    /// The worker (`WorkerRecord.id`) whose lease the job is under; nil: any worker may take it.
    public var leaseHolder: String?
    /// The fencing token: raised each time a worker takes the job. Every update of the row must
    /// carry the generation it was read with, so a worker that stalled past its lease and woke up
    /// cannot write over the newer attempt (LedgerError.leaseLost).
    public var leaseGeneration: Int

    public init(
        id: String, seriesUID: String?, source: String, state: JobState, step: JobStep,
        fileCount: Int, inputBytes: Int64, createdAt: Double, leaseHolder: String? = nil
    ) {
        self.id = id
        self.seriesUID = seriesUID
        self.source = source
        self.state = state
        self.step = step
        self.attempts = 0
        self.fileCount = fileCount
        self.inputBytes = inputBytes
        self.createdAt = createdAt
        self.leaseHolder = leaseHolder
        self.leaseGeneration = 0
    }
}
