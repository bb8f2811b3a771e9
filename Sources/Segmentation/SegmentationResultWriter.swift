import Export
import Foundation
import Inference
import Volumes

/// The write half of the segment job: the files `lcovnet segment` writes for one scan
/// (segmentation.nii.zst and .nii.gz, statistics.json, preview.png, provenance.json, each
/// atomically) into a folder. `SegmentationJob.run` calls it after `Segmenter.segment`; the
/// daemon calls it in its own write stage, so that one series is written while the next is
/// inferred.
public struct SegmentationResultWriter: Sendable {
    public var manifest: ModelManifest
    public var threads: Int
    public var memoryBudgetMiB: Int

    public init(manifest: ModelManifest, threads: Int, memoryBudgetMiB: Int) {
        self.manifest = manifest
        self.threads = threads
        self.memoryBudgetMiB = memoryBudgetMiB
    }

    public struct Written: Sendable {
        public var files: [String]
        public var organs: [OrganStatistics]
        /// The result with the write time (and the load time, when given) added, as statistics.json has it.
        public var result: SegmentationResult
    }

    public func write(_ result: SegmentationResult, scan: ScanInput, loadSeconds: Double?, into folder: String) throws -> Written {
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
        result.seconds[.write] = Segmenter.seconds(clock.now - start)
        if let loadSeconds { result.seconds[.load] = loadSeconds }
        let stages = SegmentationStage.allCases.compactMap { stage in
            result.seconds[stage].map { StatisticsReport.StageTime(stage: stage.rawValue, seconds: $0) }
        }
        files.append(try StatisticsReport(model: model, precision: result.precision.rawValue, stages: stages,
                                          geometry: result.labels.geometry, organs: organs).write(into: folder))
        return Written(files: files, organs: organs, result: result)
    }
}
