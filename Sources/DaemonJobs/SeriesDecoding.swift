import Daemon
import Foundation
import Ingest
import Logging
import Volumes

/// Reads a claimed series into a volume in HU, the one way both jobs do it: in a `lcovnet worker`
/// child when a `WorkerProcess` is given (`lcovnet serve`), else in this process (`segment`, tests).
public struct SeriesDecoding: Sendable {
    public enum Result: Sendable {
        case loaded(LoadedSeries)
        case rejected(QuarantineReason)
    }

    public var policy: IngestPolicy
    public var worker: WorkerProcess?

    public init(policy: IngestPolicy = IngestPolicy(), worker: WorkerProcess? = nil) {
        self.policy = policy
        self.worker = worker
    }

    public func decode(_ series: ClaimedSeries, logger: Logger) async throws -> Result {
        guard worker != nil else {
            let policy = policy
            let input = series.inputDirectory
            let seriesUID = Self.seriesUID(series)
            return try await BlockingWork.run {
                try Self.decodeHere(input, seriesUID: seriesUID, policy: policy, logger: logger)
            }
        }
        switch try await decodeIntoFolder(series) {
        case .rejected(let reason):
            return .rejected(reason)
        case .decoded(let folder, _):
            let result = try await BlockingWork.run { try DecodedSeriesFile.read(from: folder) }
            try? FileManager.default.removeItem(atPath: folder)
            return result
        }
    }

    /// A series decoded by the worker and left on disk for other workers (the parent never
    /// holds its voxels), or why it cannot be.
    public enum FolderResult: Sendable {
        case decoded(folder: String, voxelCount: Int)
        case rejected(QuarantineReason)
    }

    /// Decodes in the worker into a folder beside the job's input in the spool (on the same
    /// disk, removed with the job). Only with a worker.
    public func decodeIntoFolder(_ series: ClaimedSeries) async throws -> FolderResult {
        guard let worker else { preconditionFailure("decodeIntoFolder needs a worker") }
        let folder = Self.decodedFolder(series)
        try? FileManager.default.removeItem(atPath: folder)
        do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
            throw SystemCallError("mkdir", path: folder)
        }
        let status = try await worker.run(
            "decode",
            ["--input", series.inputDirectory, "--output", folder]
                + (Self.seriesUID(series).map { ["--series", $0] } ?? []) + policy.arguments,
            stderrPath: "\(folder)/worker.stderr")
        if status == WorkerProcess.temporaryFailure {
            throw SystemCallError("read", path: series.inputDirectory, errno: EIO)
        }
        return try await BlockingWork.run {
            switch try DecodedSeriesFile.readHeader(from: folder) {
            case .rejected(let reason): .rejected(reason)
            case .decoded(let header): .decoded(folder: folder, voxelCount: header.geometry.size.count)
            }
        }
    }

    static func decodedFolder(_ series: ClaimedSeries) -> String {
        (series.inputDirectory as NSString).deletingLastPathComponent + "/decoded"
    }

    /// A fallback key hashes the watch folder, and the files are now in the spool: the job's
    /// input holds that one group's files, so the folder's only series is the one.
    static func seriesUID(_ series: ClaimedSeries) -> String? {
        series.seriesUID.flatMap { SeriesKey.isFallback($0) ? nil : $0 }
    }

    /// The worker's side: decodes and leaves the result in `folder` for `decode` to read.
    /// The headers are read again here rather than taken from the grouping: the geometry then comes
    /// from the very bytes whose pixels are decoded (a file replaced between grouping and decoding
    /// cannot pair old headers with new pixels), and the second read is cheap (407 files of a
    /// 512² series: 0.10 s for the whole header pass against 1.0-1.2 s for the decode,
    /// docs/BENCHMARKS.md).
    public static func writeDecoded(
        input: String, seriesUID: String?, into folder: String, policy: IngestPolicy, logger: Logger
    ) throws {
        try DecodedSeriesFile.write(decodeHere(input, seriesUID: seriesUID, policy: policy, logger: logger), to: folder)
    }

    /// The decode itself (the worker's, and the in-process path's). A file that cannot be read
    /// for now throws a transient `SystemCallError`; anything the bytes decide is a rejection.
    public static func decodeHere(_ input: String, seriesUID: String?, policy: IngestPolicy, logger: Logger) throws
        -> Result
    {
        do {
            return .loaded(try DicomFolder.loadSeries(in: input, id: seriesUID, policy: policy, logger: logger))
        } catch {
            if error.code == .unreadable { throw SystemCallError("read", path: error.path, errno: EIO) }
            return .rejected(
                QuarantineReason(code: error.code.rawValue, sentence: error.code.sentence, detail: error.detail))
        }
    }
}

/// A worker's decoded series on disk: `series.json` (geometry and the non-identifying
/// attributes) and `voxels.raw` (Int16, little-endian, x fastest), or `rejected.json`.
enum DecodedSeriesFile {
    struct Header: Codable {
        struct Note: Codable {
            var code: String
            var path: String?
            var detail: String?
        }
        var geometry: Geometry
        var seriesInstanceUID: String
        var id: String
        var modality: String
        var seriesNumber: Int?
        var seriesDescription: String
        var sourceSliceCount: Int
        var notes: [Note]
        var source: DicomSource?
    }

    static func write(_ result: SeriesDecoding.Result, to folder: String) throws {
        switch result {
        case .rejected(let reason):
            try FileSystem.writeAtomically(Array(try JSONEncoder().encode(reason)), to: "\(folder)/rejected.json")
        case .loaded(let s):
            try RawVoxels.write(s.volume.voxels, to: "\(folder)/voxels.raw")
            let header = Header(
                geometry: s.volume.geometry, seriesInstanceUID: s.seriesInstanceUID, id: s.id, modality: s.modality,
                seriesNumber: s.seriesNumber, seriesDescription: s.seriesDescription,
                sourceSliceCount: s.sourceSliceCount,
                notes: s.notes.map { .init(code: $0.code.rawValue, path: $0.path, detail: $0.detail) }, source: s.source
            )
            try FileSystem.writeAtomically(Array(try JSONEncoder().encode(header)), to: "\(folder)/series.json")
        }
    }

    enum HeaderResult {
        case decoded(Header)
        case rejected(QuarantineReason)
    }

    /// The worker's verdict without the voxels.
    static func readHeader(from folder: String) throws -> HeaderResult {
        let decoder = JSONDecoder()
        if let data = FileManager.default.contents(atPath: "\(folder)/rejected.json") {
            return .rejected(try decoder.decode(QuarantineReason.self, from: data))
        }
        guard let data = FileManager.default.contents(atPath: "\(folder)/series.json"),
            let header = try? decoder.decode(Header.self, from: data)
        else {
            throw WorkerCrash(task: "decode", cause: .exitStatus(0))
        }
        return .decoded(header)
    }

    /// The series' UID as the decode child read it, nil when it has none (or no header is there).
    static func seriesUID(in folder: String) -> String? {
        guard case .decoded(let header)? = try? readHeader(from: folder), !header.seriesInstanceUID.isEmpty else {
            return nil
        }
        return header.seriesInstanceUID
    }

    static func read(from folder: String) throws -> SeriesDecoding.Result {
        let h: Header
        switch try readHeader(from: folder) {
        case .rejected(let reason): return .rejected(reason)
        case .decoded(let header): h = header
        }
        let voxels: [Int16] = try RawVoxels.read("\(folder)/voxels.raw", count: h.geometry.size.count, task: "decode")
        return .loaded(
            LoadedSeries(
                volume: Volume(geometry: h.geometry, voxels: voxels), seriesInstanceUID: h.seriesInstanceUID, id: h.id,
                modality: h.modality, seriesNumber: h.seriesNumber, seriesDescription: h.seriesDescription,
                sourceSliceCount: h.sourceSliceCount,
                notes: h.notes.compactMap { n in
                    IngestCode(rawValue: n.code).map { IngestNote($0, path: n.path, detail: n.detail) }
                },
                source: h.source))
    }
}

/// A worker's voxels on disk: little-endian, x fastest, nothing else. The size is checked
/// against the count the header promised before anything is read into memory.
enum RawVoxels {
    static func write<T: BitwiseCopyable>(_ voxels: [T], to path: String) throws {
        // The voxels' own bytes, not a copy of them.
        try voxels.withUnsafeBytes { bytes in try FileSystem.writeAtomically(bytes, to: path) }
    }

    static func read<T: BitwiseCopyable>(_ path: String, count: Int, task: String) throws -> [T] {
        guard let size = FileSystem.info(path)?.size, size == Int64(count * MemoryLayout<T>.size) else {
            throw WorkerCrash(task: task, cause: .exitStatus(0))
        }
        guard let handle = FileHandle(forReadingAtPath: path) else { throw SystemCallError("open", path: path) }
        defer { try? handle.close() }
        // Straight into the array: a Data first would hold the volume twice.
        let fd = handle.fileDescriptor
        var complete = true
        let voxels = [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            var done = 0
            while done < raw.count {
                let n = Glibc.read(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                done += n
            }
            complete = done == raw.count
            initialized = complete ? count : 0
        }
        guard complete else { throw SystemCallError("read", path: path, errno: EIO) }
        return voxels
    }
}
