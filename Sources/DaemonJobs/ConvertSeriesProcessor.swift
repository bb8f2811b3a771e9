import Daemon
import DurableFiles
import Foundation
import Ingest
import Logging
import NIfTI

/// The conversion job (`[job] kind = "convert"`, no model): the claimed series is read with
/// Ingest into a volume in HU and written as `image.nii.gz`, with `series.json` describing it
/// (no patient data). Every file is written to a temporary name, fsync'd and renamed. Its
/// compute stage has nothing to do; the tests use it because it is fast in a debug build.
public struct ConvertSeriesProcessor: SeriesProcessor {
    public var decoding: SeriesDecoding

    /// - Parameter worker: decode in a child process (`lcovnet serve`); nil decodes here.
    public init(policy: IngestPolicy = IngestPolicy(), worker: WorkerProcess? = nil) {
        decoding = SeriesDecoding(policy: policy, worker: worker)
    }

    public var residentMB: Int { 0 }

    /// The volume (about the size of uncompressed DICOM) and the compressed copy being written.
    public func workingSetMB(inputBytes: Int64) -> Int { Int(inputBytes >> 20) * 2 + 16 }

    public func decode(series: ClaimedSeries, logger: Logger) async throws -> Decoding<LoadedSeries> {
        switch try await decoding.decode(series, logger: logger) {
        case .loaded(let loaded): .decoded(loaded, workingSetMB: (loaded.volume.voxels.count * 4) >> 20 + 16)
        case .rejected(let reason): .rejected(reason)
        }
    }

    public func compute(_ decoded: LoadedSeries, series: ClaimedSeries, logger: Logger) async throws -> LoadedSeries {
        decoded
    }

    public func write(_ loaded: LoadedSeries, series: ClaimedSeries, into resultDir: String, logger: Logger)
        async throws -> ProcessingOutcome
    {
        try await BlockingWork.run { try Self.write(loaded, jobID: series.jobID, into: resultDir) }
    }

    static func write(_ loaded: LoadedSeries, jobID: String, into resultDir: String) throws -> ProcessingOutcome {
        let image = "\(resultDir)/image.nii.gz"
        do {
            try Durable.write(to: image) { temporary in try NIfTIFile.write(loaded.volume, to: temporary) }
        } catch let error as DurableError {
            throw error
        } catch {
            // Writing fails for lack of space or I/O: transient, retried with backoff.
            throw SystemCallError(
                "write", path: image, errno: [ENOSPC, EDQUOT].contains(Glibc.errno) ? Glibc.errno : EIO)
        }

        let g = loaded.volume.geometry
        let description = SeriesDescription(
            jobID: jobID, seriesInstanceUID: loaded.seriesInstanceUID, modality: loaded.modality,
            seriesNumber: loaded.seriesNumber, size: [g.size.i, g.size.j, g.size.k],
            spacingMM: [g.spacing.x, g.spacing.y, g.spacing.z], orientation: g.orientationCode,
            sourceFrames: loaded.sourceSliceCount, notes: loaded.notes.map(\.code.rawValue), files: ["image.nii.gz"])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try FileSystem.writeAtomically(Array(try encoder.encode(description)), to: "\(resultDir)/series.json")
        try FileSystem.sync(resultDir)
        return .completed(seriesUID: loaded.seriesInstanceUID.isEmpty ? nil : loaded.seriesInstanceUID)
    }
}

/// series.json: what was converted, without patient data.
struct SeriesDescription: Codable {
    var jobID: String
    var seriesInstanceUID: String
    var modality: String
    var seriesNumber: Int?
    var size: [Int]
    var spacingMM: [Double]
    var orientation: String
    var sourceFrames: Int
    var notes: [String]
    var files: [String]

    enum CodingKeys: String, CodingKey {
        case jobID = "job_id", seriesInstanceUID = "series_instance_uid", modality, seriesNumber = "series_number", size
        case spacingMM = "spacing_mm", orientation, sourceFrames = "source_frames", notes, files
    }
}
