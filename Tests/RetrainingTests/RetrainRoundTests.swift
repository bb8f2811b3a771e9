import Foundation
import Inference
import Logging
import ModelTestSupport
import NIfTI
import Phantom
import TestSupport
import Testing

@testable import Retraining

/// Whole rounds on tiny cached phantoms. The teacher is the student's own network, so the
/// current student scores ≈ 1 against the teacher's argmax and any fine-tuned candidate can only
/// be as good or worse: such a round must keep the current model.
@Suite struct RetrainRoundTests {
    struct Setup {
        let dir: TemporaryDirectory
        let base: ModelDirectory
        let cache: DistillationCache
        let store: ModelStore
        var teacher: String { "\(base.path)/weights.safetensors" }
        var work: String { dir.file("work") }

        init() throws {
            dir = try TemporaryDirectory("lcovnet-round")
            base = try RandomModel.write(
                to: dir.file("base"), input: RetrainingFixtures.recipe, window: RetrainingFixtures.window)
            cache = try DistillationCache(path: dir.file("work/distillation"), boundBytes: 1 << 30)
            store = try ModelStore(path: dir.file("work/models"))
            try RetrainingFixtures.fill(cache, uids: RetrainingFixtures.uids(validation: 1, training: 3))
        }

        func round(steps: Int, margin: Double, anchorTolerance: Double = 1) -> RetrainRound {
            var settings = RetrainingFixtures.settings(
                steps: steps, margin: margin, teacher: teacher, corrections: dir.file("work/corrections"))
            settings.anchorTolerance = anchorTolerance
            return RetrainRound(
                cache: cache, store: store, baseline: base.path, settings: settings,
                workPath: dir.file("work/retrain"), logger: Logger(label: "test"))
        }
    }

    @Test func aRoundThatCannotImproveKeepsTheCurrentModel() throws {
        let s = try Setup()
        let status = try s.round(steps: 3, margin: 0.01).run()
        #expect(status.decision == .keptCurrent, "\(status.reason ?? "")")
        let current = try #require(status.currentDice)
        let candidate = try #require(status.candidateDice)
        #expect(current > 0.95, "the student against its own argmax: \(current)")
        #expect(candidate < current + 0.01)
        #expect(status.trainingSeries == 3 && status.validationSeries == 1)
        // The baseline was adopted and stays current; the candidate left nothing behind.
        let versions = s.store.versions()
        #expect(versions.count == 1 && versions[0].hasSuffix("-baseline"))
        #expect(s.store.current() == versions[0])
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: s.store.path).allSatisfy { !$0.hasPrefix(".incoming-") }
        )
        // Every cached patch now holds the teacher's targets; status.json says what happened.
        #expect(try s.cache.manifest().series.flatMap(\.patches).allSatisfy { $0.teacher != nil })
        #expect(RoundStatus.read("\(s.work)/retrain/status.json")?.decision == .keptCurrent)
    }

    @Test func aCandidateThatClearsTheMarginIsPromotedAndCorrectionsCount() throws {
        let s = try Setup()
        // A person's corrected labels for a training series (the phantom's truth, on its grid).
        let uid = RetrainingFixtures.uids(validation: 1, training: 3)[1]
        try FileManager.default.createDirectory(
            atPath: s.dir.file("work/corrections"), withIntermediateDirectories: true)
        try NIfTIFile.write(RetrainingFixtures.phantom.labels, to: s.dir.file("work/corrections/\(uid).nii.gz"))
        // A margin every candidate clears: this exercises promotion, not learning.
        let status = try s.round(steps: 2, margin: -1).run()
        #expect(status.decision == .promoted, "\(status.reason ?? "")")
        #expect(status.correctedSeries == 1)
        #expect(status.anchorCurrentDice != nil && status.anchorCandidateDice != nil)
        let candidate = try #require(status.candidateVersion)
        #expect(s.store.current() == candidate)
        let promoted = try ModelDirectory(path: s.store.currentPath()!)
        #expect(promoted.manifest.modelVersion == candidate && promoted.manifest.quantization != nil)
        #expect(promoted.manifest.precision == s.base.manifest.precision)
        #expect(try s.store.rollback().hasSuffix("-baseline"))
    }

    @Test func aCandidateBelowTheAnchorFloorIsKeptOut() throws {
        let s = try Setup()
        // The candidate clears the validation margin, but the floor asks it to beat the current
        // model on the whole anchor phantoms by a full point of Dice, which no model can.
        let status = try s.round(steps: 2, margin: -1, anchorTolerance: -1).run()
        #expect(status.decision == .keptCurrent, "\(status.reason ?? "")")
        #expect(status.reason?.contains("anchor phantoms") == true)
        let current = try #require(status.anchorCurrentDice)
        let candidate = try #require(status.anchorCandidateDice)
        #expect((0...1).contains(current) && (0...1).contains(candidate))
        #expect(s.store.versions().count == 1 && s.store.current()!.hasSuffix("-baseline"))
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: s.store.path).allSatisfy { !$0.hasPrefix(".incoming-") }
        )
    }

    @Test func aRoundNeedsTheMinimumOfValidationSeries() throws {
        let s = try Setup()
        var settings = RetrainingFixtures.settings(
            steps: 1, margin: -1, teacher: s.teacher, corrections: s.dir.file("work/corrections"))
        settings.minimumValidationSeries = 2
        let status = try RetrainRound(
            cache: s.cache, store: s.store, baseline: s.base.path, settings: settings,
            workPath: s.dir.file("work/retrain"), logger: Logger(label: "test")
        ).run()
        #expect(status.decision == .skipped, "\(status.reason ?? "")")
        #expect(status.reason?.contains("2 for validation") == true)
    }

    @Test func tooFewSeriesSkipTheRound() throws {
        let dir = try TemporaryDirectory("lcovnet-round")
        let base = try RandomModel.write(
            to: dir.file("base"), input: RetrainingFixtures.recipe, window: RetrainingFixtures.window)
        let cache = try DistillationCache(path: dir.file("distillation"), boundBytes: 1 << 30)
        try RetrainingFixtures.fill(cache, uids: RetrainingFixtures.uids(validation: 0, training: 1))
        let round = RetrainRound(
            cache: cache, store: try ModelStore(path: dir.file("models")), baseline: base.path,
            settings: RetrainingFixtures.settings(steps: 1, margin: 0, teacher: nil, corrections: dir.file("none")),
            workPath: dir.file("retrain"), logger: Logger(label: "test"))
        let status = try round.run()
        #expect(status.decision == .skipped)
        #expect(status.reason?.contains("no teacher configured") == true)
    }
}
