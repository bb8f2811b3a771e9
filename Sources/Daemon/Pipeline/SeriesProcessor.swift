import Logging
import Volumes

/// A series the daemon has claimed: its input files are in the spool and stay there until the
/// results are committed.
public struct ClaimedSeries: Sendable {
    public var jobID: String
    /// nil for a batch grouped by folder only (before headers are read).
    public var seriesUID: String?
    /// The spool folder holding the input files (flat).
    public var inputDirectory: String
    public var files: [String]
}

/// Why an input cannot be processed: a stable code (the ingest codes, or the daemon's own) and
/// one sentence for people; written to reason.json in the quarantine.
public struct QuarantineReason: Sendable, Equatable, Codable {
    public var code: String
    public var sentence: String
    /// Extra facts (numbers, file names), never patient data.
    public var detail: String?

    public init(code: String, sentence: String, detail: String? = nil) {
        self.code = code
        self.sentence = sentence
        self.detail = detail
    }
}

extension QuarantineReason {
    /// Why a series that failed in processing (not in I/O) is set aside: a plausibility limit met
    /// after decoding (the prepared grid, the memory budget) keeps its own code, anything else is
    /// a processing error with the error's text.
    public init(processingFailure error: any Error) {
        if let limit = error as? PlausibilityError {
            self.init(code: limit.code.rawValue, sentence: limit.code.sentence, detail: limit.detail)
        } else {
            self.init(
                code: DaemonCode.processingError.rawValue, sentence: DaemonCode.processingError.sentence,
                detail: "\(error)")
        }
    }
}

/// What one processing attempt produced.
public enum ProcessingOutcome: Sendable, Equatable {
    /// The result folder is complete (every file written by temp name, fsync and rename).
    /// `seriesUID` names the result folder when grouping did not know it yet.
    case completed(seriesUID: String?)
    /// The input can never be processed: quarantine it with this reason.
    case rejected(QuarantineReason)
}

/// What the decode stage made of a claimed series.
public enum Decoding<Decoded: Sendable>: Sendable {
    /// The series' voxels, and the job's working set now that its size is known (MB).
    case decoded(Decoded, workingSetMB: Int)
    /// The input can never be processed: quarantine it with this reason.
    case rejected(QuarantineReason)
}

/// The work the daemon does on each claimed series, as the three stages of its pipeline:
/// `decode` (read the files, I/O and DICOM decoding), `compute` (prepare and infer) and `write`
/// (the result files). While one series is computed, the next is decoded and the previous one
/// written. `lcovnet serve` wires the real job. A thrown `SystemCallError` that is transient
/// (disk full, I/O) is retried with backoff; any other error quarantines the series.
public protocol SeriesProcessor: Sendable {
    /// What `decode` hands to `compute`.
    associatedtype Decoded: Sendable
    /// What `compute` hands to `write`.
    associatedtype Computed: Sendable

    /// Memory the processor holds whatever the jobs (the model, its engines, the compute
    /// stage's working memory), in MB: the jobs share what the budget leaves.
    var residentMB: Int { get }

    /// A job's working set from its size before it is decoded: the bytes of its input files.
    func workingSetMB(inputBytes: Int64) -> Int

    func decode(series: ClaimedSeries, logger: Logger) async throws -> Decoding<Decoded>
    func compute(_ decoded: Decoded, series: ClaimedSeries, logger: Logger) async throws -> Computed
    /// Writes the results into `resultDir` (an empty staging folder on the same filesystem as
    /// the output folder; the daemon renames it into place afterwards), each file atomically.
    func write(_ computed: Computed, series: ClaimedSeries, into resultDir: String, logger: Logger) async throws
        -> ProcessingOutcome

    /// SIGHUP: load the model (or whatever the processor holds) again. A failure keeps the old one.
    func reload(configuration: DaemonConfiguration, logger: Logger) throws
}

extension SeriesProcessor {
    public func reload(configuration: DaemonConfiguration, logger: Logger) throws {}
}

/// Splits the files of a quiet folder into series (by their headers), and sets aside the files
/// that cannot belong to any series, with their reason.
public protocol SeriesGrouper: Sendable {
    func group(files: [String], logger: Logger) async -> SeriesGrouping
}

public struct SeriesGrouping: Sendable {
    public struct Group: Sendable {
        public var seriesUID: String?
        public var files: [String]
        public init(seriesUID: String?, files: [String]) {
            self.seriesUID = seriesUID
            self.files = files
        }
    }

    public struct Rejected: Sendable {
        public var reason: QuarantineReason
        public var files: [String]
        /// The reason is what a file still being written looks like (cut short): a file that
        /// changed lately waits another quiet period instead of going to quarantine.
        public var mayBeIncomplete: Bool
        public init(reason: QuarantineReason, files: [String], mayBeIncomplete: Bool = false) {
            self.reason = reason
            self.files = files
            self.mayBeIncomplete = mayBeIncomplete
        }
    }

    public var series: [Group]
    public var rejected: [Rejected]

    public init(series: [Group], rejected: [Rejected] = []) {
        self.series = series
        self.rejected = rejected
    }
}
