import DaemonJobs
import Ingest

/// Every exit code of the commands, in one table: a number means the same thing whichever
/// command returns it (the README's lists follow it; 75 and 78 are sysexits' EX_TEMPFAIL and
/// EX_CONFIG, which the systemd units rely on).
enum ExitStatus {
    /// Any failure the table has no row for.
    static let failure: Int32 = 1
    /// No input: the path does not exist or is not something the command reads (`status`: no ledger yet).
    static let inputMissing: Int32 = 3
    /// Nothing readable: no file is DICOM, or a file is damaged.
    static let nothingReadable: Int32 = 4
    /// No eligible series (the line gives the reason code).
    static let noEligibleSeries: Int32 = 5
    /// `--series` names no eligible series.
    static let seriesNotFound: Int32 = 6
    /// Pixel data cannot be decoded.
    static let notDecodable: Int32 = 7
    /// The results cannot be written.
    static let outputNotWritable: Int32 = 8
    /// No model, or one that cannot be used.
    static let modelNotUsable: Int32 = 9
    /// The network failed on the scan.
    static let inferenceFailed: Int32 = 10
    /// Try again later: another retraining round holds the lock; a worker's peer is unreachable.
    static let temporaryFailure: Int32 = WorkerProcess.temporaryFailure
    /// The configuration is invalid (systemd does not restart on it: RestartPreventExitStatus=78).
    static let invalidConfiguration: Int32 = 78

    /// The row an ingest failure falls in.
    static func ingest(_ code: IngestCode) -> Int32 {
        switch code {
        case .noInput: inputMissing
        case .notDicom, .corrupt, .unreadable: nothingReadable
        case .seriesNotFound: seriesNotFound
        case .decodeFailed: notDecodable
        default: noEligibleSeries
        }
    }
}
