/// The daemon's own stable reason codes (beside the ingest codes), for ledger rows and reason.json.
public enum DaemonCode: String, Sendable, CaseIterable {
    case attemptsExhausted = "attempts_exhausted"
    case processingError = "processing_error"
    case alreadyProcessed = "already_processed"
    case transientError = "transient_error"
    case merged = "merged"
    case workerCrashed = "worker_crashed"

    public var sentence: String {
        switch self {
        case .attemptsExhausted:
            "The job failed or was interrupted on every allowed attempt; its inputs stay in the spool."
        case .processingError: "Processing stopped with an error that retrying cannot fix."
        case .alreadyProcessed: "This series already has a committed result; the new copy was not processed again."
        case .transientError: "A transient error (disk full, I/O) interrupted the job; it will be retried."
        case .merged: "More files of this series arrived later; its files were processed with them by a later job."
        case .workerCrashed:
            "The process that read these files crashed or ran past its limits on every allowed attempt; the daemon carried on without it."
        }
    }
}
