import Export
import Foundation
import Inference
import Ingest
import Volumes

/// The write half of the segment job: the files `lcovnet segment` writes for one scan
/// (segmentation.nii.zst and .nii.gz, segmentation.dcm and rtstruct.dcm for DICOM input, statistics.json,
/// preview.png, provenance.json, each atomically) into a folder. `SegmentationJob.run` calls it after `Segmenter.segment`; the
/// daemon calls it in its own write stage, so that one series is written while the next is
/// inferred.
public struct SegmentationResultWriter: Sendable {
    public var manifest: ModelManifest
    public var threads: Int
    public var memoryBudgetMiB: Int
    /// Whether DICOM input also gets rtstruct.dcm (`[job] rtstruct`; sites without radiotherapy
    /// may not want a second object per series in PACS).
    public var writesStructureSet: Bool

    public init(manifest: ModelManifest, threads: Int, memoryBudgetMiB: Int, writesStructureSet: Bool = true) {
        self.manifest = manifest
        self.threads = threads
        self.memoryBudgetMiB = memoryBudgetMiB
        self.writesStructureSet = writesStructureSet
    }

    public struct Written: Sendable {
        public var files: [String]
        public var organs: [OrganStatistics]
        /// The result with the write time (and the load time, when given) added, as statistics.json has it.
        public var result: SegmentationResult
    }

    public func write(_ result: SegmentationResult, scan: ScanInput, loadSeconds: Double?, into folder: String) throws
        -> Written
    {
        var result = result
        let clock = ContinuousClock()
        let start = clock.now
        let model = StatisticsReport.Model(id: manifest.provenance.source, version: manifest.modelVersion)
        var files = try SegmentationWriter.write(result.labels, into: folder)
        if let source = scan.dicomSource, result.labels.voxels.contains(where: { $0 != 0 }) {
            files.append(try writeDicomSegmentation(result.labels, source: source, into: folder))
            if writesStructureSet { files.append(try writeStructureSet(result.labels, source: source, into: folder)) }
        }
        let organs = try OrganStatistics.measure(
            labels: result.labels, scan: scan.volume, classes: manifest.classes, threads: threads)
        files.append(
            try PreviewRenderer().write(
                labels: result.labels, scan: scan.volume, classes: manifest.classes,
                title: "lcovnet \(model.version), \(result.precision.rawValue)", into: folder))
        files.append(
            try Provenance(
                input: .init(
                    kind: scan.seriesInstanceUID == nil ? "nifti" : "dicom", seriesInstanceUID: scan.seriesInstanceUID,
                    geometry: scan.volume.geometry),
                model: model, softwareVersion: SoftwareVersion.current, precision: result.precision.rawValue,
                threads: threads,
                memoryBudgetMiB: memoryBudgetMiB
            ).write(into: folder))
        result.seconds[.write] = (clock.now - start).inSeconds
        if let loadSeconds { result.seconds[.load] = loadSeconds }
        let stages = SegmentationStage.allCases.compactMap { stage in
            result.seconds[stage].map { StatisticsReport.StageTime(stage: stage.rawValue, seconds: $0) }
        }
        files.append(
            try StatisticsReport(
                model: model, precision: result.precision.rawValue, stages: stages,
                geometry: result.labels.geometry, organs: organs
            ).write(into: folder))
        return Written(files: files, organs: organs, result: result)
    }

    /// The organs as a DICOM Segmentation for PACS and viewers, on the source series' grid.
    func writeDicomSegmentation(_ labels: Volume<UInt8>, source: DicomSource, into folder: String) throws -> String {
        try writeDicom(named: Self.dicomSegmentationName, into: folder) { (temporary: String) throws(DicomWriteError) in
            try DicomSegmentationWriter.write(
                labels, source: source, classes: manifest.classes,
                seriesDescription: "lcovnet organs (\(manifest.modelVersion))", seriesNumber: Self.seriesNumber,
                softwareVersion: SoftwareVersion.current, to: temporary)
        }
    }

    /// The organs' contours as an RT Structure Set for radiotherapy planning systems.
    func writeStructureSet(_ labels: Volume<UInt8>, source: DicomSource, into folder: String) throws -> String {
        try writeDicom(named: Self.structureSetName, into: folder) { (temporary: String) throws(DicomWriteError) in
            try DicomStructureSetWriter.write(
                labels, source: source, classes: manifest.classes, seriesNumber: Self.structureSetSeriesNumber,
                softwareVersion: SoftwareVersion.current, to: temporary)
        }
    }

    func writeDicom(named name: String, into folder: String, _ body: (String) throws(DicomWriteError) -> Void) throws
        -> String
    {
        let path = "\(folder)/\(name)"
        try AtomicFile.write(to: path) { temporary in
            do throws(DicomWriteError) { try body(temporary) } catch {
                throw ExportError(path: path, reason: error.reason)
            }
        }
        return path
    }

    public static let dicomSegmentationName = "segmentation.dcm"
    public static let structureSetName = "rtstruct.dcm"
    /// Series Numbers of the Segmentation and the Structure Set: apart from a scanner's usual 1-999.
    static let seriesNumber = 9901
    static let structureSetSeriesNumber = 9902
}
