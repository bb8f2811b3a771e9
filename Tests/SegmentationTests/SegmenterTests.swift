import Foundation
import Inference
import Ingest
import Logging
import ModelSpec
import ModelTestSupport
import NIfTI
import Phantom
import PhantomDicom
import Preprocess
import SlidingWindows
import TestSupport
import Testing
import Volumes

@testable import Segmentation

@Suite struct SegmenterTests {
    static let recipe = RandomModel.coarseRecipe

    @Test func labelsLandOnTheScansGridAndRepeatExactly() throws {
        let dir = try TemporaryDirectory()
        let phantom = PhantomGenerator.generate(PhantomOptions(seed: 5, matrix: 64, sliceSpacing: 5))
        let model = try RandomModel.write(to: dir.file("model"), input: Self.recipe, window: [32, 32, 32])
        let segmenter = Segmenter(model: model, options: SegmentationOptions(threads: 2), logger: Logger(label: "test"))
        var stages = Set<SegmentationStage>()
        let first = try segmenter.segment(phantom.image) { stage, _ in stages.insert(stage) }
        let second = try segmenter.segment(phantom.image)
        #expect(first.labels.geometry == phantom.image.geometry)
        #expect(first.labels.voxels == second.labels.voxels)
        #expect(first.labels.voxels.allSatisfy { $0 < 17 })
        #expect(first.windowCount > 1)
        #expect(stages == [.prepare, .infer])
    }

    /// The prepared scan kept for the distillation cache is the preparation itself, and its labels
    /// are the segmentation on that grid: where the prepared grid is the scan's own (same spacing,
    /// voxel order kept, no crop), they equal the labels on the scan's grid voxel for voxel.
    @Test func thePreparedScanKeptIsTheOneTheNetworkSaw() throws {
        let dir = try TemporaryDirectory()
        let phantom = PhantomGenerator.generate(PhantomOptions(seed: 7, matrix: 48, sliceSpacing: 6))
        let same = InputPreparation(
            orientation: nil, resample: .spacing(phantom.image.geometry.spacing),
            normalization: .clipScale(min: -200, max: 300), bodyCrop: nil)
        let model = try RandomModel.write(to: dir.file("model"), input: same, window: [32, 32, 32])
        var options = SegmentationOptions(threads: 2, largestComponentPerOrgan: false)
        #expect(
            try Segmenter(model: model, options: options, logger: Logger(label: "test")).segment(phantom.image).prepared
                == nil)
        options.keepsPrepared = true
        let result = try Segmenter(model: model, options: options, logger: Logger(label: "test")).segment(phantom.image)
        let prepared = try #require(result.prepared)
        let reference = try Preparation.prepare(phantom.image, as: same, threads: 1)
        #expect(prepared.size == phantom.image.geometry.size)
        #expect(prepared.image == reference.volume.voxels)
        #expect(prepared.record == result.preparation)
        #expect(prepared.labels == result.labels.voxels)
        #expect(Set(prepared.labels).count > 1)
    }

    @Test func dicomAndNiftiInputsOfOneScanGiveTheSameLabels() throws {
        let dir = try TemporaryDirectory()
        let phantom = PhantomGenerator.generate(PhantomOptions(seed: 6, matrix: 48, sliceSpacing: 6))
        try DicomSeriesWriter().write(phantom.image, to: dir.file("dicom"))
        try NIfTIFile.write(phantom.image, to: dir.file("scan.nii.zst"))
        let logger = Logger(label: "test")
        let fromDicom = try ScanInput.load(dir.file("dicom"), logger: logger)
        let fromNifti = try ScanInput.load(dir.file("scan.nii.zst"), logger: logger)
        #expect(fromNifti.name == "scan")
        #expect(fromDicom.seriesInstanceUID != nil)
        #expect(fromDicom.volume.voxels == fromNifti.volume.voxels)
        let model = try RandomModel.write(to: dir.file("model"), input: Self.recipe, window: [32, 32, 32])
        let segmenter = Segmenter(model: model, options: SegmentationOptions(threads: 2), logger: logger)
        let a = try segmenter.segment(fromDicom.volume)
        let b = try segmenter.segment(fromNifti.volume)
        #expect(a.labels.voxels == b.labels.voxels)
        #expect(a.labels.geometry.isApproximatelyEqual(to: b.labels.geometry, tolerance: 1e-3))
    }

    @Test func aTightBudgetMakesTheWindowShallowerNotTheResultWrong() throws {
        // An abdomen at 2 × 2 × 4 mm after the body crop.
        let size = Extent3(170, 120, 112)
        let roomy = try WindowChoice.window(
            model: [64, 160, 192], prepared: size, classCount: 17, precision: .int8, budgetBytes: 2048 << 20)
        let tight = try WindowChoice.window(
            model: [64, 160, 192], prepared: size, classCount: 17, precision: .int8, budgetBytes: 512 << 20)
        #expect(roomy == (try WindowShape(d: 64, h: 128, w: 176)))
        #expect(tight.d < 64 && tight.d >= 32 && tight.d % 16 == 0)
        // fp32 activations are 3.3× int8's: the same budget buys a smaller window.
        let fp32 = try WindowChoice.window(
            model: [64, 160, 192], prepared: size, classCount: 17, precision: .fp32, budgetBytes: 512 << 20)
        #expect(fp32.voxelCount < tight.voxelCount)
        for (choice, precision, budget) in [(roomy, Precision.int8, 2048), (tight, .int8, 512), (fp32, .fp32, 512)] {
            let used =
                LCOVNetEngine.estimatedArenaBytes(window: choice, precision: precision)
                + SlidingWindowInference.workingBytes(
                    volumeSize: size, windowSize: Extent3(choice.w, choice.h, choice.d), classCount: 17)
            #expect(used <= budget << 19, "\(choice) needs \(used >> 20) MiB of half of \(budget)")
        }
        let small = try WindowChoice.window(
            model: [64, 160, 160], prepared: Extent3(70, 50, 20), classCount: 17, precision: .int8,
            budgetBytes: 512 << 20)
        #expect(small == (try WindowShape(d: 32, h: 64, w: 80)))
    }

    @Test func aLongScanLeavesLessOfTheBudgetToTheWindow() throws {
        // 512 × 512 scans at 0.71 mm, 300 slices of 1.5 mm and 812 of 0.5 mm, prepared at 2 × 2 × 4 mm after the body crop.
        let shortPrepared = Extent3(160, 128, 113)
        let longPrepared = Extent3(160, 128, 102)
        let shortHeld = WindowChoice.heldBytes(scan: Extent3(512, 512, 300), prepared: shortPrepared)
        let longHeld = WindowChoice.heldBytes(scan: Extent3(512, 512, 812), prepared: longPrepared)
        let short = try WindowChoice.window(
            model: [32, 96, 96], prepared: shortPrepared, classCount: 17, precision: .fp32,
            budgetBytes: 512 << 20, heldBytes: shortHeld)
        let long = try WindowChoice.window(
            model: [32, 96, 96], prepared: longPrepared, classCount: 17, precision: .fp32,
            budgetBytes: 512 << 20, heldBytes: longHeld)
        #expect(long.voxelCount < short.voxelCount)
        let used =
            LCOVNetEngine.estimatedArenaBytes(window: long, precision: .fp32)
            + SlidingWindowInference.workingBytes(
                volumeSize: longPrepared, windowSize: Extent3(long.w, long.h, long.d), classCount: 17)
            + 17 * long.d * longPrepared.sliceCount * 4
        #expect(used + longHeld <= 512 << 20, "\(long) needs \(used >> 20) MiB beside \(longHeld >> 20) MiB held")
    }

    @Test func missingInputIsOneLineNamingIt() {
        let error = #expect(throws: SegmentationError.self) {
            try ScanInput.load("/nonexistent/scan.nii.gz", logger: Logger(label: "t"))
        }
        #expect(error?.description == "/nonexistent/scan.nii.gz: no such file or folder")
    }
}
