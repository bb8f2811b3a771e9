import Daemon
import Export
import Foundation
import Inference
import Ingest
import Logging
import Retraining
import Segmentation
import Volumes

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
    private var configuration: DaemonConfiguration
    /// The folder the segmenter's model was loaded from (a promoted version changes it).
    private var servedModel: String
    /// Distillation-cache writes, one at a time, off the result path.
    private let cacheWriter = BackgroundCacheWriter()
    private let decoding: SeriesDecoding

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
        var manifest: ModelManifest
    }

    /// - Parameter worker: decode in a child process (`lcovnet serve`); nil decodes here.
    public init(configuration: DaemonConfiguration, worker: WorkerProcess? = nil, logger: Logger) throws {
        (segmenter, servedModel) = try Self.makeSegmenter(configuration, logger: logger)
        self.configuration = configuration
        decoding = SeriesDecoding(worker: worker)
    }

    /// The model folder [job] model names, else the version `lcovnet retrain` (or `lcovnet model
    /// promote`) made current under <work>/models, else the shipped default where `segment`
    /// finds it too (ShippedModels).
    public static func modelPath(_ c: DaemonConfiguration, environment: [String: String]) -> String? {
        if !c.job.model.isEmpty { return c.job.model }
        if let promoted = promotedModel(c) { return promoted }
        return ShippedModels.defaultModel(environment: environment)
    }

    /// The current promoted version, when [job] model leaves the choice to the daemon.
    static func promotedModel(_ c: DaemonConfiguration) -> String? {
        guard c.job.model.isEmpty, let link = try? FileManager.default.destinationOfSymbolicLink(atPath: "\(c.modelsPath)/\(ModelStore.currentName)")
        else { return nil }
        let path = "\(c.modelsPath)/\(link)"
        return FileManager.default.fileExists(atPath: "\(path)/manifest.json") ? path : nil
    }

    static func makeSegmenter(_ c: DaemonConfiguration, logger: Logger) throws -> (Segmenter, String) {
        guard let path = modelPath(c, environment: ProcessInfo.processInfo.environment) else {
            throw ConfigurationError(file: "configuration", key: "job.model", problem: "no model was found (looked in [job] model, <work>/models/current, \(ShippedModels.searched))",
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
        return (Segmenter(model: model, options: options, logger: logger), path)
    }

    public func reload(configuration: DaemonConfiguration, logger: Logger) throws {
        let (next, path) = try Self.makeSegmenter(configuration, logger: logger)
        lock.withLock {
            segmenter = next
            servedModel = path
            self.configuration = configuration
        }
    }

    /// Between jobs: a version promoted since the model was loaded is loaded now (what SIGHUP
    /// does). A model that fails to load is logged and the one in use stays.
    private func pickUpPromotedModel(logger: Logger) {
        let (c, served) = lock.withLock { (configuration, servedModel) }
        guard let promoted = Self.promotedModel(c), promoted != served else { return }
        do {
            try reload(configuration: c, logger: logger)
            logger.notice("promoted model picked up", metadata: ["model": "\(promoted)"])
        } catch {
            logger.error("promoted model not loaded; the previous one stays", metadata: ["model": "\(promoted)", "error": "\(error)"])
            lock.withLock { servedModel = promoted }   // not retried for every job; SIGHUP retries
        }
    }

    /// Hands the series to the distillation cache's writer, which prepares it, picks patches and
    /// stores them while the daemon goes on (skipped when a write is still in flight).
    private func cache(_ scan: ScanInput, labels: Volume<UInt8>, manifest: ModelManifest, logger: Logger) {
        let c = lock.withLock { configuration }
        guard c.retrain.cache, let uid = scan.seriesInstanceUID else { return }
        let volume = scan.volume, input = manifest.input, version = manifest.modelVersion
        let started = cacheWriter.submit {
            let start = Date()
            do {
                let cache = try DistillationCache(path: c.cachePath, boundBytes: Int64(c.retrain.cacheMB) << 20)
                let added = try SeriesCacheWriter(cache: cache, window: c.retrain.patchWindow, patchesPerSeries: c.retrain.patchesPerSeries, threads: 1)
                    .add(scan: volume, studentLabels: labels, seriesUID: uid, input: input, modelVersion: version)
                logger.info("series cached for retraining", metadata: [
                    "stage": "cache", "series.uid": "\(uid)", "patches": .stringConvertible(added.patches),
                    "organs": .stringConvertible(added.organsCovered), "evicted": .stringConvertible(added.evictedSeries),
                    "cache_bytes": .stringConvertible(added.cacheBytes), "duration_ms": .stringConvertible(Int(Date().timeIntervalSince(start) * 1000))])
            } catch {
                logger.warning("series not cached", metadata: ["stage": "cache", "series.uid": "\(uid)", "error": "\(error)"])
            }
        }
        if !started { logger.info("series not cached: the cache writer is busy", metadata: ["stage": "cache", "series.uid": "\(uid)"]) }
    }

    /// Waits for a cache write in flight (tests).
    public func waitForCacheWrites() { cacheWriter.wait() }

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
        let started = ContinuousClock.now
        switch try await decoding.decode(series, logger: logger) {
        case .rejected(let reason):
            return .rejected(reason)
        case .loaded(let loaded):
            let scan = ScanInput(volume: loaded.volume, seriesInstanceUID: loaded.seriesInstanceUID.isEmpty ? nil : loaded.seriesInstanceUID,
                                 path: series.inputDirectory, dicomSource: loaded.source)
            let load = ContinuousClock.now - started
            return .decoded(Decoded(scan: scan, loadSeconds: Double(load.components.seconds) + Double(load.components.attoseconds) / 1e18),
                            workingSetMB: Self.workingSetMB(voxels: scan.volume.voxels.count))
        }
    }

    public func compute(_ decoded: Decoded, series: ClaimedSeries, logger: Logger) async throws -> Computed {
        try await BlockingWork.run { [self] in
            pickUpPromotedModel(logger: logger)
            let segmenter = lock.withLock { self.segmenter }
            let result = try inference.withLock { try segmenter.segment(decoded.scan.volume) }
            let writer = SegmentationResultWriter(manifest: segmenter.model.manifest, threads: segmenter.options.threads,
                                                  memoryBudgetMiB: segmenter.options.memoryBudgetMiB,
                                                  writesStructureSet: lock.withLock { configuration.job.rtstruct })
            return Computed(scan: decoded.scan, loadSeconds: decoded.loadSeconds, result: result, writer: writer, manifest: segmenter.model.manifest)
        }
    }

    public func write(_ computed: Computed, series: ClaimedSeries, into resultDir: String, logger: Logger) async throws -> ProcessingOutcome {
        try await BlockingWork.run { [self] in
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
            cache(computed.scan, labels: computed.result.labels, manifest: computed.manifest, logger: logger)
            return .completed(seriesUID: computed.scan.seriesInstanceUID)
        }
    }
}
