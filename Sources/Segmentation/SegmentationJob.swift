import Export
import Foundation
import Inference
import Volumes

/// The version written into provenance.json.
public enum SoftwareVersion {
    public static let current = "0.1.0"
}

/// One scan through to its results folder: `<out>/<SeriesInstanceUID or file stem>/` with
/// segmentation.nii.zst and .nii.gz, statistics.json, preview.png and provenance.json, the
/// folder published whole (ResultFolder.publish).
public struct SegmentationJob {
    public struct Outcome: Sendable {
        public var folder: String
        public var files: [String]
        public var result: SegmentationResult
        public var organs: [OrganStatistics]
    }

    public static func run(
        _ scan: ScanInput, outputDirectory: String, segmenter: Segmenter, loadSeconds: Double? = nil,
        progress: (SegmentationStage, Double) -> Void = { _, _ in }
    ) throws -> Outcome {
        let result = try segmenter.segment(scan.volume, progress: progress)
        progress(.write, 0)
        let writer = SegmentationResultWriter(
            manifest: segmenter.model.manifest, threads: segmenter.options.threads,
            memoryBudgetMiB: segmenter.options.memoryBudgetMiB)
        try ResultFolder.ensureOutputDirectory(outputDirectory)
        // Written whole into a staging folder, then moved into place: a run that fails half-way
        // leaves an earlier result as it was, never mixed with new files.
        let (folder, written) = try ResultFolder.publish(outputDirectory: outputDirectory, name: scan.name) { staging in
            try writer.write(result, scan: scan, loadSeconds: loadSeconds, into: staging)
        }
        progress(.write, 1)
        return Outcome(folder: folder, files: written.files, result: written.result, organs: written.organs)
    }
}
