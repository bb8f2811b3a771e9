import Daemon
import Export
import Foundation
import Inference
import Ingest
import Logging
import Segmentation

/// The job `lcovnet segment` does, for each claimed series, as the daemon's three stages:
/// decode (Ingest reads the series), compute (the model segments it: `Segmenter.segment`) and
/// write (Export writes segmentation.nii.zst/.nii.gz, statistics.json, preview.png and
/// provenance.json, each atomically, into the job's staging folder).
///
/// The model is loaded once and kept (with its compiled engines) across jobs; SIGHUP loads it
/// again. One segmentation runs at a time per model: the engines are not shared across threads.
public final class SegmentSeriesProcessor: SeriesProcessor, @unchecked Sendable {
    // @unchecked: `segmenter` is read and replaced only under `lock`; segmentation itself runs
    // under `inference` so that no two jobs use the engines at once.
    private let lock = NSLock()
    private let inference = NSLock()
    private var segmenter: Segmenter

    /// A decoded series, and how long reading it took (statistics.json reports it).
    public struct Decoded: Sendable {
        var scan: ScanInput
        var loadSeconds: Double
    }

    /// A segmented series, with what the write stage needs of the model that made it.
    public struct Computed: Sendable {
        var scan: ScanInput
        var loadSeconds: Double
        var result: SegmentationResult
        var writer: SegmentationResultWriter
    }

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
                                          memoryBudgetMiB: max(64, c.limits.memoryBudgetMB / 4))
        logger.info("model loaded", metadata: ["model": "\(path)", "model.version": "\(model.manifest.modelVersion)"])
        return Segmenter(model: model, options: options, logger: logger)
    }

    public func reload(configuration: DaemonConfiguration, logger: Logger) throws {
        let next = try Self.makeSegmenter(configuration, logger: logger)
        lock.withLock { segmenter = next }
    }

    /// The model's weights (and the engines made from them) plus the compute stage's working
    /// memory: held whatever the jobs.
    public var residentMB: Int { lock.withLock { Self.residentMB(segmenter) } }

    static func residentMB(_ segmenter: Segmenter) -> Int {
        let weights = FileSystem.info("\(segmenter.model.path)/\(segmenter.model.manifest.weights)")?.size ?? 0
        return segmenter.options.memoryBudgetMiB + Int(weights >> 20) * 3 + 64
    }

    /// The scan (uncompressed DICOM is about the size of its voxels), its labels and the two
    /// compressed label files being written.
    public func workingSetMB(inputBytes: Int64) -> Int { Int(inputBytes >> 20) * 5 / 2 + 32 }

    /// 2 bytes a voxel for the scan, 1 for the labels, 2 for the label files being compressed.
    static func workingSetMB(voxels: Int) -> Int { (voxels * 5) >> 20 + 32 }

    public func decode(series: ClaimedSeries, logger: Logger) async throws -> Decoding<Decoded> {
        try await BlockingWork.run {
            let started = ContinuousClock.now
            do {
                let scan = try ScanInput.load(series.inputDirectory, series: series.seriesUID, logger: logger)
                let load = ContinuousClock.now - started
                return .decoded(Decoded(scan: scan, loadSeconds: Double(load.components.seconds) + Double(load.components.attoseconds) / 1e18),
                                workingSetMB: Self.workingSetMB(voxels: scan.volume.voxels.count))
            } catch let error as IngestError {
                if error.code == .unreadable { throw SystemCallError("read", path: error.path, errno: EIO) }
                return .rejected(QuarantineReason(code: error.code.rawValue, sentence: error.code.sentence, detail: error.detail))
            }
        }
    }

    public func compute(_ decoded: Decoded, series: ClaimedSeries, logger: Logger) async throws -> Computed {
        try await BlockingWork.run { [self] in
            let segmenter = lock.withLock { self.segmenter }
            let result = try inference.withLock { try segmenter.segment(decoded.scan.volume) }
            let writer = SegmentationResultWriter(manifest: segmenter.model.manifest, threads: segmenter.options.threads,
                                                  memoryBudgetMiB: segmenter.options.memoryBudgetMiB)
            return Computed(scan: decoded.scan, loadSeconds: decoded.loadSeconds, result: result, writer: writer)
        }
    }

    public func write(_ computed: Computed, series: ClaimedSeries, into resultDir: String, logger: Logger) async throws -> ProcessingOutcome {
        try await BlockingWork.run {
            let organs: [OrganStatistics]
            do {
                organs = try computed.writer.write(computed.result, scan: computed.scan, loadSeconds: computed.loadSeconds, into: resultDir).organs
            } catch let error as ExportError {
                // Results that cannot be written (a full disk, I/O) are retried with backoff; the
                // inputs stay in the spool whatever happens.
                throw SystemCallError("write results (\(error))", path: resultDir, errno: [ENOSPC, EDQUOT].contains(Glibc.errno) ? Glibc.errno : EIO)
            }
            try FileSystem.sync(resultDir)
            logger.info("series segmented", metadata: [
                "stage": "write", "precision": "\(computed.result.precision.rawValue)", "windows": .stringConvertible(computed.result.windowCount),
                "organs_found": .stringConvertible(organs.filter { $0.voxelCount > 0 }.count)])
            return .completed(seriesUID: computed.scan.seriesInstanceUID)
        }
    }
}
