import Daemon
import Foundation
import Ingest
import Logging
import NIfTI

/// The job `lcovnet serve` runs until `lcovnet segment` is wired in: the claimed series is read
/// with Ingest into a volume in HU and written as `image.nii.gz`, with `series.json` describing
/// it (no patient data). Every file is written to a temporary name, fsync'd and renamed.
public struct ConvertSeriesProcessor: SeriesProcessor {
    public var policy: IngestPolicy

    public init(policy: IngestPolicy = IngestPolicy()) {
        self.policy = policy
    }

    public func process(series: ClaimedSeries, into resultDir: String, logger: Logger) async throws -> ProcessingOutcome {
        let policy = policy
        return try await BlockingWork.run { try Self.convert(series, into: resultDir, policy: policy, logger: logger) }
    }

    static func convert(_ series: ClaimedSeries, into resultDir: String, policy: IngestPolicy, logger: Logger) throws -> ProcessingOutcome {
        let loaded: LoadedSeries
        do {
            let scan = try DicomFolder.scan(series.inputDirectory, policy: policy, logger: logger)
            let candidate = try scan.select(id: series.seriesUID)
            loaded = try DicomFolder.load(candidate, policy: policy, logger: logger)
        } catch {
            if error.code == .unreadable { throw SystemCallError("read", path: error.path, errno: EIO) }
            return .rejected(QuarantineReason(code: error.code.rawValue, sentence: error.code.sentence, detail: error.detail))
        }
        let image = "\(resultDir)/image.nii.gz"
        let partial = "\(resultDir)/.image.partial.nii.gz"
        do {
            try NIfTIFile.write(loaded.volume, to: partial)
        } catch {
            // Writing fails for lack of space or I/O: transient, retried with backoff.
            throw SystemCallError("write", path: partial, errno: [ENOSPC, EDQUOT].contains(Glibc.errno) ? Glibc.errno : EIO)
        }
        try FileSystem.sync(partial)
        try FileSystem.rename(partial, image)

        let g = loaded.volume.geometry
        let description = SeriesDescription(
            jobID: series.jobID, seriesInstanceUID: loaded.seriesInstanceUID, modality: loaded.modality,
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
