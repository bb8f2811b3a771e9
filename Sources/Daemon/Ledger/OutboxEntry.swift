import GRDB

/// One result object owed to one DICOM destination ([[dicom.destinations]]). Entries are written
/// in the transaction that marks their job done, so a kill can neither lose one nor make two;
/// an entry is sent until the peer answers success, then never again.
public struct OutboxEntry: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "outbox"

    public enum State: String, Codable, Sendable, CaseIterable, DatabaseValueConvertible {
        case pending, sent
        /// A later result replaced its file before it was sent, or the file is gone; never sent.
        case abandoned
    }

    enum CodingKeys: String, CodingKey {
        case id, jobID = "job_id", seriesUID = "series_uid", destination, file, state, attempts
        case createdAt = "created_at", nextAttemptAt = "next_attempt_at", sentAt = "sent_at", lastError = "last_error"
    }

    public var id: Int64?
    public var jobID: String
    public var seriesUID: String?
    /// The destination's name (`DicomPeer.name`: AE@host:port).
    public var destination: String
    /// The object to send (inside the job's result folder).
    public var file: String
    public var state: State
    public var attempts: Int
    public var createdAt: Double
    public var nextAttemptAt: Double
    public var sentAt: Double?
    public var lastError: String?

    public init(jobID: String, seriesUID: String?, destination: String, file: String, now: Double) {
        self.jobID = jobID
        self.seriesUID = seriesUID
        self.destination = destination
        self.file = file
        self.state = .pending
        self.attempts = 0
        self.createdAt = now
        self.nextAttemptAt = now
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}
