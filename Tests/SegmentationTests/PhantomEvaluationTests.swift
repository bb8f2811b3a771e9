import Foundation
import Inference
import Logging
import ModelTestSupport
import Phantom
import TestSupport
import Testing
import Volumes
@testable import Segmentation

@Suite struct PhantomEvaluationTests {
    /// One precision scored against itself agrees perfectly (the path is deterministic), and the
    /// report's means are the means of its own per-case, per-organ figures.
    @Test func aPrecisionAgreesWithItselfAndTheMeansAddUp() throws {
        let dir = try TemporaryDirectory()
        let model = try RandomModel.write(to: dir.file("model"), input: SegmenterTests.recipe, window: [32, 32, 32])
        let template = PhantomOptions(seed: 0, matrix: 48, sliceSpacing: 6)
        let evaluation = try PhantomEvaluation.run(model: model, seeds: [7, 8], template: template, precisions: [.fp32, .fp32],
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
}
