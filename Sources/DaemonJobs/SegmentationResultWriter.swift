import Export
import Foundation
import Inference
import Segmentation
import Volumes

/// The write stage of the segment job: the files `lcovnet segment` writes for one scan
/// (segmentation.nii.zst and .nii.gz, statistics.json, preview.png, provenance.json, each
/// atomically), written straight into the job's staging folder.
///
/// This is the second half of `SegmentationJob.run`, whose first half (`Segmenter.segment`)
/// is the compute stage: the daemon runs the two in different stages so that one series is
/// written while the next is inferred. Keep the two in step; once Sources/Segmentation is free
/// to change, `SegmentationJob.run` should call one shared write function instead.
struct SegmentationResultWriter {
    var manifest: ModelManifest
    var threads: Int
    var memoryBudgetMiB: Int

    func write(_ result: SegmentationResult, scan: ScanInput, loadSeconds: Double?, into folder: String) throws -> (files: [String], organs: [OrganStatistics]) {
        var result = result
        let clock = ContinuousClock(), start = clock.now
        let model = StatisticsReport.Model(id: manifest.provenance.source, version: manifest.modelVersion)
        var files = try SegmentationWriter.write(result.labels, into: folder)
        let organs = try OrganStatistics.measure(labels: result.labels, scan: scan.volume, classes: manifest.classes, threads: threads)
        files.append(try PreviewRenderer().write(labels: result.labels, scan: scan.volume, classes: manifest.classes,
                                                 title: "lcovnet \(model.version), \(result.precision.rawValue)", into: folder))
        files.append(try Provenance(
            input: .init(kind: scan.seriesInstanceUID == nil ? "nifti" : "dicom", seriesInstanceUID: scan.seriesInstanceUID,
                         geometry: scan.volume.geometry),
            model: model, softwareVersion: SoftwareVersion.current, precision: result.precision.rawValue, threads: threads,
            memoryBudgetMiB: memoryBudgetMiB).write(into: folder))
        let elapsed = clock.now - start
        result.seconds[.write] = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        if let loadSeconds { result.seconds[.load] = loadSeconds }
        let stages = SegmentationStage.allCases.compactMap { stage in
            result.seconds[stage].map { StatisticsReport.StageTime(stage: stage.rawValue, seconds: $0) }
        }
        files.append(try StatisticsReport(model: model, precision: result.precision.rawValue, stages: stages,
                                          geometry: result.labels.geometry, organs: organs).write(into: folder))
        return (files, organs)
    }
}
