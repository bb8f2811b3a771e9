import Foundation
import Inference
import Logging
import ModelSpec
import ModelTestSupport
import Phantom
import Preprocess
import TestSupport
import Testing
import Volumes

@testable import Evaluation
@testable import Segmentation

@Suite struct PhantomEvaluationTests {
    /// One precision scored against itself agrees perfectly (the path is deterministic), and the
    /// report's means are the means of its own per-case, per-organ figures.
    @Test func aPrecisionAgreesWithItselfAndTheMeansAddUp() throws {
        let dir = try TemporaryDirectory()
        let model = try RandomModel.write(to: dir.file("model"), input: RandomModel.coarseRecipe, window: [32, 32, 32])
        let template = PhantomOptions(seed: 0, matrix: 48, sliceSpacing: 6)
        let evaluation = try PhantomEvaluation.run(
            model: model, seeds: [7, 8], template: template, precisions: [.fp32, .fp32],
            options: SegmentationOptions(threads: 2), logger: Logger(label: "test"))
        #expect(evaluation.cases.map(\.seed) == [7, 8])
        for item in evaluation.cases {
            #expect(item.voxelAgreement == 1)
            #expect(item.meanAgreement == 1)
            let dice = try #require(item.dice["fp32"])
            #expect(!dice.isEmpty)
            let mean = dice.values.reduce(0, +) / Double(dice.count)
            #expect(abs((item.meanDice["fp32"] ?? -1) - mean) < 1e-12)
        }
        let perCase = evaluation.cases.compactMap { $0.meanDice["fp32"] }
        #expect(abs((evaluation.meanDice["fp32"] ?? -1) - perCase.reduce(0, +) / Double(perCase.count)) < 1e-12)
        // An organ's mean over cases uses only the cases that contain it.
        for (organ, value) in evaluation.dicePerOrgan["fp32"] ?? [:] {
            let scores = evaluation.cases.compactMap { $0.dice["fp32"]?[organ] }
            #expect(abs(value - scores.reduce(0, +) / Double(scores.count)) < 1e-12)
        }
    }

    /// Any labelled scans can be scored (CT synthesized on held-out maps, `evaluate --anatomies`):
    /// each case names what it was built on, the report its source and no phantom knobs, and the
    /// same scans score the same as through the phantom path.
    @Test func scansFromElsewhereAreScoredTheSameWay() throws {
        let dir = try TemporaryDirectory()
        let model = try RandomModel.write(to: dir.file("model"), input: RandomModel.coarseRecipe, window: [32, 32, 32])
        let template = PhantomOptions(seed: 0, matrix: 48, sliceSpacing: 6)
        let options = SegmentationOptions(threads: 2)
        let viaPhantoms = try PhantomEvaluation.run(
            model: model, seeds: [7], template: template, precisions: [.fp32], options: options,
            logger: Logger(label: "test"))
        let elsewhere = try PhantomEvaluation.run(
            model: model, seeds: [7], source: "maps", precisions: [.fp32], options: options,
            logger: Logger(label: "test")
        ) { seed in
            var o = template
            o.seed = seed
            let phantom = PhantomGenerator.generate(o)
            return .init(image: phantom.image, labels: phantom.labels, anatomy: "map-\(seed)")
        }
        #expect(elsewhere.source == "maps" && elsewhere.phantom == nil && viaPhantoms.phantom != nil)
        #expect(elsewhere.cases.map(\.anatomy) == ["map-7"])
        #expect(elsewhere.cases[0].dice == viaPhantoms.cases[0].dice)
    }

    /// int8 against fp32 runs both on the window the first precision chose, even where the budget
    /// alone would give fp32 (3× the activations) a smaller one: the agreement measures the
    /// precision, not two different tilings.
    @Test func bothPrecisionsRunOnTheFirstOnesWindow() throws {
        let dir = try TemporaryDirectory()
        // Fine enough that the prepared volume holds a 32×96×96 window, which the budget can shrink.
        let recipe = InputPreparation(
            orientation: "LPS", resample: .spacing([3, 3, 6]), normalization: .clipScale(min: -200, max: 300),
            bodyCrop: .init(thresholdHU: -500, marginMM: 10))
        let fp32Model = try RandomModel.write(to: dir.file("fp32"), input: recipe, window: [32, 96, 96])
        let template = PhantomOptions(seed: 7, matrix: 128, sliceSpacing: 5)
        let phantom = PhantomGenerator.generate(template)
        let prepared = try Preparation.prepare(phantom.image, as: recipe)
        let size = prepared.volume.size
        let held = WindowChoice.heldBytes(scan: phantom.image.size, prepared: size)
        let calibration = [Float](prepared.volume.voxels.prefix(32 * 64 * 64))
        let (model, _) = try Int8Quantizer.quantize(
            model: fp32Model, windows: [(try WindowShape(d: 32, h: 64, w: 64), calibration)],
            sources: ["phantom-7"], output: dir.file("int8"), threads: 2)
        func choice(_ p: Precision, _ mib: Int) throws -> WindowShape {
            try WindowChoice.window(
                model: [32, 96, 96], prepared: size, classCount: 17, precision: p,
                fp32Layers: p == .int8 ? model.manifest.quantization!.fp32Layers : [], budgetBytes: mib << 20,
                heldBytes: held)
        }
        // The smallest budget that gives int8 its full window: fp32 gets less there.
        let budget = try #require((100...2048).first { try choice(.int8, $0) == choice(.int8, 4096) })
        let int8Window = try choice(.int8, budget)
        let fp32Window = try choice(.fp32, budget)
        try #require(fp32Window != int8Window, "fp32 would choose \(fp32Window) too (prepared \(size))")
        let evaluation = try PhantomEvaluation.run(
            model: model, seeds: [7], template: template, precisions: [.int8, .fp32],
            options: SegmentationOptions(threads: 2, memoryBudgetMiB: budget), logger: Logger(label: "test"))
        let windows = try #require(evaluation.cases.first?.windows)
        let expected = [int8Window.d, int8Window.h, int8Window.w]
        #expect(windows == ["int8": expected, "fp32": expected])
    }
}
