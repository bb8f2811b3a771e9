import Foundation
import Logging
import ModelSpec
import ModelTestSupport
import Phantom
import Preprocess
import TestSupport
import Testing
import Volumes

@testable import Segmentation

/// A scan whose labels, prepared volume and smallest window cannot fit the budget is refused
/// with `over-memory-budget` before anything is allocated for it, instead of running over; at
/// the floor itself it runs, and its measured window keeps inside the budget.
@Suite struct MemoryBudgetRefusalTests {
    @Test func aScanBeyondTheBudgetIsRefusedAndOneAtTheFloorRuns() throws {
        let dir = try TemporaryDirectory()
        let recipe = InputPreparation(
            orientation: "LPS", resample: .spacing([2, 2, 2]), normalization: .clipScale(min: -200, max: 300),
            bodyCrop: .init(thresholdHU: -500, marginMM: 10))
        let model = try RandomModel.write(to: dir.file("fp32"), input: recipe, window: [32, 96, 96])
        let phantom = PhantomGenerator.generate(PhantomOptions(seed: 7, matrix: 128, sliceSpacing: 5))
        let logger = Logger(label: "test")
        let floor = try Segmenter(
            model: model, options: SegmentationOptions(precision: .fp32, threads: 2, memoryBudgetMiB: 64),
            logger: logger
        )
        .leastMemoryMiB(for: phantom.image.geometry)
        // The floor counts the prepared grid before the crop: 2 mm over the whole scan.
        let g = phantom.image.geometry
        let prepared = (0..<3).map { Double(g.size[$0]) * g.spacing[$0] / 2 }.reduce(1, *)
        #expect(Double(floor) >= (prepared * 4 * 0.9 + Double(g.size.count)) / 1_048_576, "floor \(floor) MiB")

        let refused = Segmenter(
            model: model, options: SegmentationOptions(precision: .fp32, threads: 2, memoryBudgetMiB: floor - 1),
            logger: logger)
        #expect {
            try refused.segment(phantom.image)
        } throws: { error in
            guard let e = error as? PlausibilityError else { return false }
            return e.code == .overMemoryBudget && e.detail.contains("\(floor) MiB")
                && e.description.contains("[over-memory-budget]")
        }
        let result = try Segmenter(
            model: model, options: SegmentationOptions(precision: .fp32, threads: 2, memoryBudgetMiB: floor),
            logger: logger
        )
        .segment(phantom.image)
        #expect(result.labels.geometry == phantom.image.geometry)
    }
}
