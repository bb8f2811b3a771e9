import Daemon
import Export
import Foundation
import Inference
import Ingest
import Logging
import Segmentation

/// The job `lcovnet segment` does, for each claimed series: Ingest reads it, the model segments
/// it, and Export writes segmentation.nii.zst/.nii.gz, statistics.json, preview.png and
/// provenance.json (each atomically) into the job's staging folder.
///
/// The model is loaded once and kept (with its compiled engines) across jobs; SIGHUP loads it
/// again. One segmentation runs at a time per model: the engines are not shared across threads.
public final class SegmentSeriesProcessor: SeriesProcessor, @unchecked Sendable {
    // @unchecked: `segmenter` is read and replaced only under `lock`; segmentation itself runs
    // under `inference` so that no two jobs use the engines at once.
    private let lock = NSLock()
    private let inference = NSLock()
    private var segmenter: Segmenter

    /// Where the model is looked for when [job] model is "".
    public static let installedModels = ["/usr/local/share/lcovnet/models/default", "/usr/share/lcovnet/models/default"]

    public init(configuration: DaemonConfiguration, logger: Logger) throws {
        segmenter = try Self.makeSegmenter(configuration, logger: logger)
    }

    /// The model folder [job] model names, or the first default that exists.
    public static func modelPath(_ job: DaemonConfiguration.Job, environment: [String: String]) -> String? {
        if !job.model.isEmpty { return job.model }
        if let env = environment["LCOVNET_MODEL"], !env.isEmpty { return env }
        return installedModels.first { FileManager.default.fileExists(atPath: "\($0)/manifest.json") }
    }

    static func makeSegmenter(_ c: DaemonConfiguration, logger: Logger) throws -> Segmenter {
        guard let path = modelPath(c.job, environment: ProcessInfo.processInfo.environment) else {
            throw ConfigurationError(file: "configuration", key: "job.model", problem: "no model was found (looked in \(installedModels.joined(separator: ", ")))",
                                     fix: "install the default model, set [job] model to a model folder, or set [job] kind = \"convert\"")
        }
        let model: ModelDirectory
        do {
            model = try ModelDirectory(path: path)
        } catch {
            throw ConfigurationError(file: "configuration", key: "job.model", problem: "\(path) is not a usable model (\(error))",
                                     fix: "point [job] model at a folder with manifest.json and its weights")
        }
        let threads = c.job.threads == 0 ? ProcessInfo.processInfo.activeProcessorCount : c.job.threads
        let options = SegmentationOptions(precision: Precision(rawValue: c.job.precision), threads: threads,
                                          memoryBudgetMiB: max(64, c.limits.memoryBudgetMB / max(1, c.limits.concurrency) / 2))
        logger.info("model loaded", metadata: ["model": "\(path)", "model.version": "\(model.manifest.modelVersion)"])
        return Segmenter(model: model, options: options, logger: logger)
    }

    public func reload(configuration: DaemonConfiguration, logger: Logger) throws {
        let next = try Self.makeSegmenter(configuration, logger: logger)
        lock.withLock { segmenter = next }
    }

    public func process(series: ClaimedSeries, into resultDir: String, logger: Logger) async throws -> ProcessingOutcome {
        return try await BlockingWork.run { [self] in
            let segmenter = lock.withLock { self.segmenter }
            let scan: ScanInput
            let started = ContinuousClock.now
            do {
                scan = try ScanInput.load(series.inputDirectory, series: series.seriesUID, logger: logger)
            } catch let error as IngestError {
                if error.code == .unreadable { throw SystemCallError("read", path: error.path, errno: EIO) }
                return .rejected(QuarantineReason(code: error.code.rawValue, sentence: error.code.sentence, detail: error.detail))
            }
            let load = ContinuousClock.now - started
            let outcome: SegmentationJob.Outcome
            do {
                outcome = try inference.withLock {
                    // Results go to <staging>/<name>/ first (the job names its folder itself), then
                    // up into the staging folder, which the daemon renames into place.
                    try SegmentationJob.run(scan, outputDirectory: "\(resultDir)/.job", segmenter: segmenter,
                                            loadSeconds: Double(load.components.seconds) + Double(load.components.attoseconds) / 1e18)
                }
            } catch let error as ExportError {
                // Results that cannot be written (a full disk, I/O) are retried with backoff; the
                // inputs stay in the spool whatever happens.
                throw SystemCallError("write results (\(error))", path: resultDir, errno: [ENOSPC, EDQUOT].contains(Glibc.errno) ? Glibc.errno : EIO)
            }
            for name in FileSystem.entries(outcome.folder) {
                try FileSystem.rename("\(outcome.folder)/\(name)", "\(resultDir)/\(name)")
            }
            try FileSystem.removeTree("\(resultDir)/.job")
            try FileSystem.sync(resultDir)
            logger.info("series segmented", metadata: [
                "stage": "process", "precision": "\(outcome.result.precision.rawValue)", "windows": .stringConvertible(outcome.result.windowCount),
                "organs_found": .stringConvertible(outcome.organs.filter { $0.voxelCount > 0 }.count)])
            return .completed(seriesUID: scan.seriesInstanceUID)
        }
    }
}
