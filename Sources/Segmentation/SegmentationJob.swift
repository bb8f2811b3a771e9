import Export
import Foundation
import Inference
import Volumes

/// The version written into provenance.json.
public enum SoftwareVersion {
    public static let current = "0.1.0"
}

/// One scan through to its results folder: `<out>/<SeriesInstanceUID or file stem>/` with
/// segmentation.nii.zst and .nii.gz, statistics.json, preview.png and provenance.json, each
/// written atomically.
public struct SegmentationJob {
    public struct Outcome: Sendable {
        public var folder: String
        public var files: [String]
        public var result: SegmentationResult
        public var organs: [OrganStatistics]
    }

    public static func run(_ scan: ScanInput, outputDirectory: String, segmenter: Segmenter, loadSeconds: Double? = nil,
                           progress: (SegmentationStage, Double) -> Void = { _, _ in }) throws -> Outcome {
        var result = try segmenter.segment(scan.volume, progress: progress)
        let clock = ContinuousClock(), start = clock.now
        progress(.write, 0)
        let manifest = segmenter.model.manifest
        let model = StatisticsReport.Model(id: manifest.provenance.source, version: manifest.modelVersion)
        let threads = segmenter.options.threads
        let folder = try ResultFolder.create(outputDirectory: outputDirectory, seriesUID: scan.seriesInstanceUID, inputPath: scan.path)
        var files = try SegmentationWriter.write(result.labels, into: folder)
        let organs = try OrganStatistics.measure(labels: result.labels, scan: scan.volume, classes: manifest.classes, threads: threads)
        files.append(try PreviewRenderer().write(labels: result.labels, scan: scan.volume, classes: manifest.classes,
                                                 title: "lcovnet \(model.version), \(result.precision.rawValue)", into: folder))
        files.append(try Provenance(
            input: .init(kind: scan.seriesInstanceUID == nil ? "nifti" : "dicom", seriesInstanceUID: scan.seriesInstanceUID,
                         geometry: scan.volume.geometry),
            model: model, softwareVersion: SoftwareVersion.current, precision: result.precision.rawValue, threads: threads,
            memoryBudgetMiB: segmenter.options.memoryBudgetMiB).write(into: folder))
        result.seconds[.write] = Segmenter.seconds(clock.now - start)
        if let loadSeconds { result.seconds[.load] = loadSeconds }
        let stages = SegmentationStage.allCases.compactMap { stage in
            result.seconds[stage].map { StatisticsReport.StageTime(stage: stage.rawValue, seconds: $0) }
        }
        files.append(try StatisticsReport(model: model, precision: result.precision.rawValue, stages: stages,
                                          geometry: result.labels.geometry, organs: organs).write(into: folder))
        progress(.write, 1)
        return Outcome(folder: folder, files: files, result: result, organs: organs)
    }
}
