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
        // A fallback key hashes the watch folder, and the files are now in the spool: the job's
        // input holds that one group's files, so the folder's only series is the one.
        let seriesUID = series.seriesUID.flatMap { SeriesKey.isFallback($0) ? nil : $0 }
        guard let worker else {
            let policy = policy, input = series.inputDirectory
            return try await BlockingWork.run { try Self.decodeHere(input, seriesUID: seriesUID, policy: policy, logger: logger) }
        }
        // Beside the job's input in the spool: removed with the job, on the same disk.
        let folder = (series.inputDirectory as NSString).deletingLastPathComponent + "/decoded"
        try? FileManager.default.removeItem(atPath: folder)
        do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
            throw SystemCallError("mkdir", path: folder)
        }
        let status = try await worker.run("decode", ["--input", series.inputDirectory, "--output", folder]
                                                     + (seriesUID.map { ["--series", $0] } ?? []),
                                          stderrPath: "\(folder)/worker.stderr")
        if status == WorkerProcess.temporaryFailure { throw SystemCallError("read", path: series.inputDirectory, errno: EIO) }
        let result = try await BlockingWork.run { try DecodedSeriesFile.read(from: folder) }
        try? FileManager.default.removeItem(atPath: folder)
        return result
    }

    /// The worker's side: decodes and leaves the result in `folder` for `decode` to read.
    public static func writeDecoded(input: String, seriesUID: String?, into folder: String, logger: Logger) throws {
        try DecodedSeriesFile.write(decodeHere(input, seriesUID: seriesUID, policy: IngestPolicy(), logger: logger), to: folder)
    }

    /// The decode itself (the worker's, and the in-process path's). A file that cannot be read
    /// for now throws a transient `SystemCallError`; anything the bytes decide is a rejection.
    public static func decodeHere(_ input: String, seriesUID: String?, policy: IngestPolicy, logger: Logger) throws -> Result {
        do {
            return .loaded(try DicomFolder.loadSeries(in: input, id: seriesUID, policy: policy, logger: logger))
        } catch {
            if error.code == .unreadable { throw SystemCallError("read", path: error.path, errno: EIO) }
            return .rejected(QuarantineReason(code: error.code.rawValue, sentence: error.code.sentence, detail: error.detail))
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
            let bytes = s.volume.voxels.withUnsafeBufferPointer { Array(UnsafeRawBufferPointer($0)) }
            try FileSystem.writeAtomically(bytes, to: "\(folder)/voxels.raw")
            let header = Header(geometry: s.volume.geometry, seriesInstanceUID: s.seriesInstanceUID, id: s.id, modality: s.modality,
                                seriesNumber: s.seriesNumber, seriesDescription: s.seriesDescription, sourceSliceCount: s.sourceSliceCount,
                                notes: s.notes.map { .init(code: $0.code.rawValue, path: $0.path, detail: $0.detail) }, source: s.source)
            try FileSystem.writeAtomically(Array(try JSONEncoder().encode(header)), to: "\(folder)/series.json")
        }
    }

    static func read(from folder: String) throws -> SeriesDecoding.Result {
        let decoder = JSONDecoder()
        if let data = FileManager.default.contents(atPath: "\(folder)/rejected.json") {
            return .rejected(try decoder.decode(QuarantineReason.self, from: data))
        }
        guard let data = FileManager.default.contents(atPath: "\(folder)/series.json") else {
            throw WorkerCrash(task: "decode", cause: .exitStatus(0))
        }
        let h = try decoder.decode(Header.self, from: data)
        let raw = "\(folder)/voxels.raw"
        // The size is checked against the header before the voxels are read into memory.
        guard let size = FileSystem.info(raw)?.size, size == Int64(h.geometry.size.count) * 2 else {
            throw WorkerCrash(task: "decode", cause: .exitStatus(0))
        }
        let bytes = try Data(contentsOf: URL(fileURLWithPath: raw))
        let voxels = bytes.withUnsafeBytes { Array($0.bindMemory(to: Int16.self)) }
        return .loaded(LoadedSeries(volume: Volume(geometry: h.geometry, voxels: voxels), seriesInstanceUID: h.seriesInstanceUID, id: h.id,
                                    modality: h.modality, seriesNumber: h.seriesNumber, seriesDescription: h.seriesDescription,
                                    sourceSliceCount: h.sourceSliceCount,
                                    notes: h.notes.compactMap { n in IngestCode(rawValue: n.code).map { IngestNote($0, path: n.path, detail: n.detail) } },
                                    source: h.source))
    }
}
