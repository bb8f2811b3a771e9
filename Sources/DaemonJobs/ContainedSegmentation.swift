import Daemon
import Foundation
import Inference
import Logging
import Preprocess
import Retraining
import Segmentation
import Volumes

/// The segment job's compute and write stages in `lcovnet worker` children (`lcovnet serve`),
/// so that nothing computed from a series' bytes runs in the daemon: the decode child leaves the
/// series in the job's `decoded` folder, the compute child (`worker segment`: prepare, infer)
/// leaves the labels beside it, the write child (`worker write`) writes the result files from
/// both. A crash, a runaway allocation or the `[limits] job_seconds` deadline ends the child
/// and costs the job one attempt; the daemon never holds the series' voxels.
public struct ContainedSegmentation: Sendable {
    /// What the children are told about the model and the job.
    public struct Job: Sendable {
        public var model: String
        public var precision: String
        public var threads: Int
        public var memoryBudgetMiB: Int
        public var rtstruct: Bool
        /// The compute child leaves the prepared scan and its labels on that grid for the
        /// distillation cache (the cache child then prepares nothing).
        public var keepsPrepared: Bool

        public init(
            model: String, precision: String, threads: Int, memoryBudgetMiB: Int, rtstruct: Bool, keepsPrepared: Bool
        ) {
            self.model = model
            self.precision = precision
            self.threads = threads
            self.memoryBudgetMiB = memoryBudgetMiB
            self.rtstruct = rtstruct
            self.keepsPrepared = keepsPrepared
        }

        var arguments: [String] {
            [
                "--model", model, "--precision", precision, "--threads", "\(threads)", "--memory-budget-mib",
                "\(memoryBudgetMiB)", "--keeps-prepared", "\(keepsPrepared)"
            ]
        }
    }

    public var worker: WorkerProcess

    public init(worker: WorkerProcess) {
        self.worker = worker
    }

    /// Runs the compute child on the decoded series in `folder`: nil when the labels are there,
    /// else why the series can never be segmented (e.g. `over-memory-budget`).
    public func compute(folder: String, job: Job) async throws -> QuarantineReason? {
        let status = try await worker.run(
            "segment", ["--decoded", folder] + job.arguments, stderrPath: "\(folder)/segment.stderr")
        if status == WorkerProcess.temporaryFailure { throw SystemCallError("read", path: folder, errno: EIO) }
        return try await BlockingWork.run {
            if let data = FileManager.default.contents(atPath: "\(folder)/\(Self.refusedName)") {
                return try JSONDecoder().decode(QuarantineReason.self, from: data)
            }
            guard FileManager.default.fileExists(atPath: "\(folder)/\(SegmentedSeriesFile.recordName)") else {
                throw WorkerCrash(task: "segment", cause: .exitStatus(0))
            }
            return nil
        }
    }

    /// Runs the write child: the result files into `resultDir`, durably. A full disk comes back
    /// as a transient error (retried with backoff).
    public func write(folder: String, into resultDir: String, job: Job, loadSeconds: Double) async throws
        -> SegmentedSeriesFile.Written
    {
        let status = try await worker.run(
            "write",
            [
                "--decoded", folder, "--output", resultDir, "--rtstruct", "\(job.rtstruct)",
                "--load-seconds", "\(loadSeconds)"
            ] + job.arguments,
            stderrPath: "\(folder)/write.stderr")
        // The child exits 75 on a transient failure (a full disk, I/O; its write.stderr says which).
        if status == WorkerProcess.temporaryFailure {
            throw SystemCallError("write results (see write.stderr)", path: resultDir, errno: EIO)
        }
        return try await BlockingWork.run {
            guard let data = FileManager.default.contents(atPath: "\(folder)/\(SegmentedSeriesFile.writtenName)"),
                let written = try? JSONDecoder().decode(SegmentedSeriesFile.Written.self, from: data)
            else {
                throw WorkerCrash(task: "write", cause: .exitStatus(0))
            }
            return written
        }
    }

    static let refusedName = "segment-refused.json"

    // MARK: The children's side

    /// `lcovnet worker segment`: segments the decoded series in `folder` and leaves the labels
    /// there, or the reason the series can never be segmented.
    public static func segmentHere(folder: String, job: Job, logger: Logger) throws {
        guard case .loaded(let loaded) = try DecodedSeriesFile.read(from: folder) else {
            throw WorkerCrash(task: "segment", cause: .exitStatus(0))
        }
        let model = try ModelDirectory(path: job.model)
        var options = SegmentationOptions(
            precision: Precision(rawValue: job.precision), threads: job.threads, memoryBudgetMiB: job.memoryBudgetMiB)
        options.keepsPrepared = job.keepsPrepared
        let segmenter = Segmenter(model: model, options: options, logger: logger)
        let result: SegmentationResult
        do {
            result = try segmenter.segment(loaded.volume)
        } catch {
            // The series cannot be segmented: the same reason the daemon gives in-process.
            let reason = QuarantineReason(processingFailure: error)
            try FileSystem.writeAtomically(Array(try JSONEncoder().encode(reason)), to: "\(folder)/\(refusedName)")
            return
        }
        try SegmentedSeriesFile.write(result, to: folder)
    }

    /// `lcovnet worker write`: the result files of the segmented series in `folder`, into `output`.
    public static func writeHere(folder: String, output: String, job: Job, loadSeconds: Double) throws {
        guard case .loaded(let loaded) = try DecodedSeriesFile.read(from: folder) else {
            throw WorkerCrash(task: "write", cause: .exitStatus(0))
        }
        let result = try SegmentedSeriesFile.read(from: folder, geometry: loaded.volume.geometry)
        let manifest = try ModelDirectory(path: job.model).manifest
        let scan = ScanInput(loaded, path: folder)
        let writer = SegmentationResultWriter(
            manifest: manifest, threads: job.threads, memoryBudgetMiB: job.memoryBudgetMiB,
            writesStructureSet: job.rtstruct)
        let organs = try SegmentSeriesProcessor.writeResults(
            result, scan: scan, loadSeconds: loadSeconds, writer: writer, into: output)
        let written = SegmentedSeriesFile.Written(
            seriesUID: scan.seriesInstanceUID, precision: result.precision.rawValue,
            windows: result.windowCount, organsFound: organs.filter { $0.voxelCount > 0 }.count)
        try FileSystem.writeAtomically(
            Array(try JSONEncoder().encode(written)), to: "\(folder)/\(SegmentedSeriesFile.writtenName)")
    }

    /// `lcovnet worker cache`: the segmented series in `folder` into the distillation cache, from
    /// the scan as the compute child prepared it and the labels on that grid (no second preparation).
    public static func cacheHere(
        folder: String, cache: DistillationCache, window: [Int], patchesPerSeries: Int, model: String
    ) throws {
        guard let uid = DecodedSeriesFile.seriesUID(in: folder), !uid.isEmpty else {
            throw WorkerCrash(task: "cache", cause: .exitStatus(0))
        }
        let prepared = try SegmentedSeriesFile.readPrepared(from: folder)
        let manifest = try ModelDirectory(path: model).manifest
        let added = try SeriesCacheWriter(cache: cache, window: window, patchesPerSeries: patchesPerSeries, threads: 1)
            .add(prepared, seriesUID: uid, modelVersion: manifest.modelVersion)
        try FileSystem.writeAtomically(
            Array(try JSONEncoder().encode(added)), to: "\(folder)/\(SegmentedSeriesFile.cachedName)")
    }
}

/// A compute child's labels on disk beside the decoded series: `labels.raw` (UInt8, x fastest,
/// on the scan's grid) and `segmented.json` (how they were made); when the series is to be
/// cached, also the prepared scan (`prepared.raw`, Float) and the labels on its grid
/// (`prepared-labels.raw`).
public enum SegmentedSeriesFile {
    static let recordName = "segmented.json"
    static let labelsName = "labels.raw"
    static let writtenName = "written.json"
    static let cachedName = "cached.json"
    static let preparedName = "prepared.raw"
    static let preparedLabelsName = "prepared-labels.raw"

    struct Record: Codable {
        var preparation: PreparationRecord
        var window: WindowShape
        var windowCount: Int
        var precision: Precision
        var seconds: [String: Double]
    }

    /// What the write child reports back for the daemon's log line.
    public struct Written: Codable, Sendable {
        public var seriesUID: String?
        public var precision: String
        public var windows: Int
        public var organsFound: Int
    }

    static func write(_ result: SegmentationResult, to folder: String) throws {
        try RawVoxels.write(result.labels.voxels, to: "\(folder)/\(labelsName)")
        if let prepared = result.prepared {
            try RawVoxels.write(prepared.image, to: "\(folder)/\(preparedName)")
            try RawVoxels.write(prepared.labels, to: "\(folder)/\(preparedLabelsName)")
        }
        let record = Record(
            preparation: result.preparation, window: result.window, windowCount: result.windowCount,
            precision: result.precision,
            seconds: Dictionary(uniqueKeysWithValues: result.seconds.map { ($0.key.rawValue, $0.value) }))
        try FileSystem.writeAtomically(Array(try JSONEncoder().encode(record)), to: "\(folder)/\(recordName)")
    }

    /// segmented.json; a compute child that left none crashed.
    private static func readRecord(from folder: String) throws -> Record {
        guard let data = FileManager.default.contents(atPath: "\(folder)/\(recordName)"),
            let record = try? JSONDecoder().decode(Record.self, from: data)
        else {
            throw WorkerCrash(task: "segment", cause: .exitStatus(0))
        }
        return record
    }

    /// The prepared scan and its labels the compute child left (sized by the record's prepared grid).
    static func readPrepared(from folder: String) throws -> PreparedScan {
        let record = try readRecord(from: folder)
        let count = record.preparation.preparedSize.count
        return try PreparedScan(
            image: try RawVoxels.read("\(folder)/\(preparedName)", count: count, task: "segment"),
            labels: try RawVoxels.read("\(folder)/\(preparedLabelsName)", count: count, task: "segment"),
            record: record.preparation)
    }

    static func read(from folder: String, geometry: Geometry) throws -> SegmentationResult {
        let record = try readRecord(from: folder)
        let labels: [UInt8] = try RawVoxels.read("\(folder)/\(labelsName)", count: geometry.size.count, task: "segment")
        return SegmentationResult(
            labels: Volume(geometry: geometry, voxels: labels), preparation: record.preparation, window: record.window,
            windowCount: record.windowCount, precision: record.precision,
            seconds: Dictionary(
                uniqueKeysWithValues: record.seconds.compactMap { k, v in SegmentationStage(rawValue: k).map { ($0, v) }
                }))
    }
}
