import Daemon
import Export
import Foundation
import Inference
import Ingest
import Logging
import Preprocess
import Retraining
import Segmentation
import Volumes

/// The job `lcovnet segment` does, for each claimed series, as the daemon's three stages:
/// decode (Ingest reads the series), compute (the model segments it: `Segmenter.segment`) and
/// write (Export writes segmentation.nii.zst/.nii.gz, statistics.json, preview.png and
/// provenance.json, each atomically, into the job's staging folder).
///
/// With a worker (`lcovnet serve`) the three stages run in children (ContainedSegmentation) and
/// the daemon only checks the model at start and on SIGHUP; without one (tests) the model is
/// loaded once and kept across jobs, one segmentation at a time (the segmenter builds its engine
/// per scan, for the window the scan allows).
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

    /// Compute and write in `lcovnet worker` children (`lcovnet serve`); nil runs them here.
    private let worker: WorkerProcess?

    /// A decoded series, and how long reading it took (statistics.json reports it).
    public struct Decoded: Sendable {
        enum Scan: Sendable {
            case here(ScanInput)
            /// Left by the decode child in the job's folder, for the compute and write children.
            case onDisk(folder: String)
        }
        var scan: Scan
        var loadSeconds: Double
    }

    /// A segmented series, with what the write stage needs of the model that made it.
    public enum Computed: Sendable {
        case here(InProcess)
        case onDisk(folder: String, job: ContainedSegmentation.Job, loadSeconds: Double)
        /// The compute child found that the series can never be segmented.
        case refused(QuarantineReason)
    }

    public struct InProcess: Sendable {
        var scan: ScanInput
        var loadSeconds: Double
        var result: SegmentationResult
        var writer: SegmentationResultWriter
        var manifest: ModelManifest
    }

    /// - Parameter worker: decode, compute and write in child processes (`lcovnet serve`); nil
    ///   does it all here.
    public init(configuration: DaemonConfiguration, worker: WorkerProcess? = nil, logger: Logger) throws {
        (segmenter, servedModel) = try Self.makeSegmenter(configuration, logger: logger)
        self.configuration = configuration
        self.worker = worker
        decoding = SeriesDecoding(policy: IngestPolicy(configuration: configuration.ingest), worker: worker)
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
        guard c.job.model.isEmpty,
            let link = try? FileManager.default.destinationOfSymbolicLink(
                atPath: "\(c.modelsPath)/\(ModelStore.currentName)")
        else { return nil }
        let path = "\(c.modelsPath)/\(link)"
        return FileManager.default.fileExists(atPath: "\(path)/manifest.json") ? path : nil
    }

    static func makeSegmenter(_ c: DaemonConfiguration, logger: Logger) throws -> (Segmenter, String) {
        guard let path = modelPath(c, environment: ProcessInfo.processInfo.environment) else {
            throw ConfigurationError(
                file: "configuration", key: "job.model",
                problem: "no model was found (looked in [job] model, <work>/models/current, \(ShippedModels.searched))",
                fix: "install the default model, set [job] model to a model folder, or set [job] kind = \"convert\"")
        }
        let model: ModelDirectory
        do {
            model = try ModelDirectory(path: path)
        } catch {
            throw ConfigurationError(
                file: "configuration", key: "job.model", problem: "\(path) is not a usable model (\(error))",
                fix: "point [job] model at a folder with manifest.json and its weights")
        }
        var options = SegmentationOptions(
            precision: Precision(rawValue: c.job.precision), threads: threads(c),
            memoryBudgetMiB: computeBudgetMiB(c))
        options.keepsPrepared = c.retrain.cache
        logger.info("model loaded", metadata: ["model": "\(path)", "model.version": "\(model.manifest.modelVersion)"])
        return (Segmenter(model: model, options: options, logger: logger), path)
    }

    static func threads(_ c: DaemonConfiguration) -> Int {
        c.job.threads == 0 ? ProcessInfo.processInfo.activeProcessorCount : c.job.threads
    }

    /// The compute stage's working memory: a quarter of the budget (the rest is the jobs' scans).
    static func computeBudgetMiB(_ c: DaemonConfiguration) -> Int { max(64, c.limits.memoryBudgetMB / 4) }

    /// The children's job, for the model now served.
    private func containedJob() -> (ContainedSegmentation, ContainedSegmentation.Job)? {
        guard let worker else { return nil }
        let (c, model) = lock.withLock { (configuration, servedModel) }
        return (
            ContainedSegmentation(worker: worker.forJob(seconds: c.limits.jobSeconds, threads: Self.threads(c))),
            ContainedSegmentation.Job(
                model: model, precision: c.job.precision, threads: Self.threads(c),
                memoryBudgetMiB: Self.computeBudgetMiB(c), rtstruct: c.job.rtstruct,
                keepsPrepared: c.retrain.cache)
        )
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
            logger.error(
                "promoted model not loaded; the previous one stays",
                metadata: ["model": "\(promoted)", "error": "\(error)"])
            lock.withLock { servedModel = promoted }  // not retried for every job; SIGHUP retries
        }
    }

    /// Hands the series, as the segmentation prepared it, to the distillation cache's writer, which
    /// picks patches and stores them while the daemon goes on (skipped when a write is still in flight).
    private func cache(_ scan: ScanInput, prepared: PreparedScan?, manifest: ModelManifest, logger: Logger) {
        let c = lock.withLock { configuration }
        guard c.retrain.cache, let prepared, let uid = scan.seriesInstanceUID else { return }
        let version = manifest.modelVersion
        submitCacheWrite(seriesUID: uid, logger: logger) {
            let cache = try DistillationCache(path: c.cachePath, boundBytes: Int64(c.retrain.cacheMB) << 20)
            return try SeriesCacheWriter(
                cache: cache, window: c.retrain.patchWindow, patchesPerSeries: c.retrain.patchesPerSeries, threads: 1
            )
            .add(prepared, seriesUID: uid, modelVersion: version)
        }
    }

    /// The same from the prepared scan and its labels on disk, in a `worker cache` child: the
    /// folder is moved out of the job's (which goes at commit) and removed when the child is done.
    /// Only a job whose compute child kept the prepared scan is cached (the cache may have been
    /// turned on by a reload since).
    private func cacheFromDisk(_ folder: String, job: ContainedSegmentation.Job, logger: Logger) {
        let c = lock.withLock { configuration }
        let model = job.model
        guard c.retrain.cache, job.keepsPrepared, let worker, let uid = DecodedSeriesFile.seriesUID(in: folder) else {
            try? FileManager.default.removeItem(atPath: folder)
            return
        }
        let moved = "\(c.paths.work)/worker/cache-\(UUID().uuidString)"
        do {
            try FileManager.default.createDirectory(atPath: "\(c.paths.work)/worker", withIntermediateDirectories: true)
            try FileSystem.rename(folder, moved)
        } catch {
            logger.warning(
                "series not cached", metadata: ["stage": "cache", "series.uid": "\(uid)", "error": "\(error)"])
            return
        }
        let child = worker.forJob(seconds: c.limits.jobSeconds, threads: 1)
        let started = submitCacheWrite(seriesUID: uid, logger: logger) {
            defer { try? FileManager.default.removeItem(atPath: moved) }
            return try BlockingWork.wait {
                _ = try await child.run(
                    "cache",
                    [
                        "--decoded", moved, "--cache-path", c.cachePath, "--cache-mb", "\(c.retrain.cacheMB)",
                        "--window", c.retrain.patchWindow.map(String.init).joined(separator: ","),
                        "--patches", "\(c.retrain.patchesPerSeries)", "--model", model
                    ],
                    stderrPath: "\(moved)/cache.stderr")
                guard let data = FileManager.default.contents(atPath: "\(moved)/\(SegmentedSeriesFile.cachedName)")
                else {
                    throw WorkerCrash(task: "cache", cause: .exitStatus(0))
                }
                return try JSONDecoder().decode(SeriesCacheWriter.Added.self, from: data)
            }
        }
        if !started { try? FileManager.default.removeItem(atPath: moved) }
    }

    /// Runs `add` on the cache writer's queue and logs what it did; false when a write was in flight.
    @discardableResult
    private func submitCacheWrite(
        seriesUID uid: String, logger: Logger, _ add: @escaping @Sendable () throws -> SeriesCacheWriter.Added
    ) -> Bool {
        let started = cacheWriter.submit {
            let start = Date()
            do {
                let added = try add()
                logger.info(
                    "series cached for retraining",
                    metadata: [
                        "stage": "cache", "series.uid": "\(uid)", "patches": .stringConvertible(added.patches),
                        "organs": .stringConvertible(added.organsCovered),
                        "evicted": .stringConvertible(added.evictedSeries),
                        "cache_bytes": .stringConvertible(added.cacheBytes),
                        "duration_ms": .stringConvertible(Int(Date().timeIntervalSince(start) * 1000))
                    ])
            } catch {
                logger.warning(
                    "series not cached", metadata: ["stage": "cache", "series.uid": "\(uid)", "error": "\(error)"])
            }
        }
        if !started {
            logger.info(
                "series not cached: the cache writer is busy", metadata: ["stage": "cache", "series.uid": "\(uid)"])
        }
        return started
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
        func seconds() -> Double { (ContinuousClock.now - started).inSeconds }
        if worker != nil {
            switch try await decoding.decodeIntoFolder(series) {
            case .rejected(let reason):
                return .rejected(reason)
            case .decoded(let folder, let voxelCount):
                return .decoded(
                    Decoded(scan: .onDisk(folder: folder), loadSeconds: seconds()),
                    workingSetMB: Self.workingSetMB(voxels: voxelCount))
            }
        }
        switch try await decoding.decode(series, logger: logger) {
        case .rejected(let reason):
            return .rejected(reason)
        case .loaded(let loaded):
            let scan = ScanInput(loaded, path: series.inputDirectory)
            return .decoded(
                Decoded(scan: .here(scan), loadSeconds: seconds()),
                workingSetMB: Self.workingSetMB(voxels: scan.volume.voxels.count))
        }
    }

    public func compute(_ decoded: Decoded, series: ClaimedSeries, logger: Logger) async throws -> Computed {
        switch decoded.scan {
        case .onDisk(let folder):
            try await BlockingWork.run { [self] in pickUpPromotedModel(logger: logger) }
            guard let (contained, job) = containedJob() else { preconditionFailure("a scan on disk without a worker") }
            if let reason = try await contained.compute(folder: folder, job: job) { return .refused(reason) }
            return .onDisk(folder: folder, job: job, loadSeconds: decoded.loadSeconds)
        case .here(let scan):
            return try await BlockingWork.run { [self] in
                pickUpPromotedModel(logger: logger)
                let segmenter = lock.withLock { self.segmenter }
                let result = try inference.withLock { try segmenter.segment(scan.volume) }
                let writer = SegmentationResultWriter(
                    manifest: segmenter.model.manifest, threads: segmenter.options.threads,
                    memoryBudgetMiB: segmenter.options.memoryBudgetMiB,
                    writesStructureSet: lock.withLock { configuration.job.rtstruct })
                return .here(
                    InProcess(
                        scan: scan, loadSeconds: decoded.loadSeconds, result: result, writer: writer,
                        manifest: segmenter.model.manifest))
            }
        }
    }

    public func write(_ computed: Computed, series: ClaimedSeries, into resultDir: String, logger: Logger) async throws
        -> ProcessingOutcome
    {
        switch computed {
        case .refused(let reason):
            return .rejected(reason)
        case .onDisk(let folder, let job, let loadSeconds):
            guard let (contained, _) = containedJob() else { preconditionFailure("a scan on disk without a worker") }
            // The child's writeResults has synced the folder.
            let written = try await contained.write(folder: folder, into: resultDir, job: job, loadSeconds: loadSeconds)
            logSegmented(
                precision: written.precision, windows: written.windows, organsFound: written.organsFound, logger: logger
            )
            cacheFromDisk(folder, job: job, logger: logger)
            return .completed(seriesUID: written.seriesUID)
        case .here(let c):
            return try await BlockingWork.run { [self] in
                let organs = try Self.writeResults(
                    c.result, scan: c.scan, loadSeconds: c.loadSeconds, writer: c.writer, into: resultDir)
                logSegmented(
                    precision: c.result.precision.rawValue, windows: c.result.windowCount,
                    organsFound: organs.filter { $0.voxelCount > 0 }.count, logger: logger)
                cache(c.scan, prepared: c.result.prepared, manifest: c.manifest, logger: logger)
                return .completed(seriesUID: c.scan.seriesInstanceUID)
            }
        }
    }

    /// The result files, durably: the daemon's write stage, here or in the write child.
    static func writeResults(
        _ result: SegmentationResult, scan: ScanInput, loadSeconds: Double, writer: SegmentationResultWriter,
        into resultDir: String
    ) throws -> [OrganStatistics] {
        let organs: [OrganStatistics]
        do {
            organs = try writer.write(result, scan: scan, loadSeconds: loadSeconds, into: resultDir).organs
        } catch let error as ExportError {
            // Results that cannot be written (a full disk, I/O) are retried with backoff; the
            // inputs stay in the spool whatever happens.
            throw SystemCallError(
                "write results (\(error))", path: resultDir,
                errno: error.errno.flatMap { [ENOSPC, EDQUOT].contains($0) ? $0 : nil } ?? EIO)
        }
        try FileSystem.sync(resultDir)
        return organs
    }

    private func logSegmented(precision: String, windows: Int, organsFound: Int, logger: Logger) {
        logger.info(
            "series segmented",
            metadata: [
                "stage": "write", "precision": "\(precision)", "windows": .stringConvertible(windows),
                "organs_found": .stringConvertible(organsFound)
            ])
    }
}
