import Foundation
import ModelSpec
import ModelTestSupport
import Phantom
import Retraining
import TestSupport
import Volumes

/// Small phantoms on a coarse grid (a few thousand prepared voxels), so that caching, teacher
/// backfill, fine-tuning and evaluation run in seconds in a debug build.
enum RetrainingFixtures {
    static let recipe = RandomModel.coarseRecipe
    static let window = [32, 32, 32]

    /// Series UIDs whose sides of the split are known: the first `validation` validate.
    static func uids(validation: Int, training: Int, percent: Int = 20) -> [String] {
        var v: [String] = []
        var t: [String] = []
        var n = 0
        while v.count < validation || t.count < training {
            let uid = "2.25.1000\(n)"
            n += 1
            if ValidationSplit.isValidation(seriesUID: uid, percent: percent) {
                if v.count < validation { v.append(uid) }
            } else if t.count < training {
                t.append(uid)
            }
        }
        return v + t
    }

    /// One phantom for every cached series (generating one takes seconds in a debug build; the
    /// machinery under test does not care that the series look alike).
    static let phantom = PhantomGenerator.generate(PhantomOptions(seed: 1, matrix: 64))

    /// Caches the phantom under each of the given UIDs, its true labels standing in for the student's.
    static func fill(_ cache: DistillationCache, uids: [String], patches: Int = 2) throws {
        let writer = SeriesCacheWriter(cache: cache, window: window, patchesPerSeries: patches, threads: 1)
        for uid in uids {
            _ = try writer.add(
                scan: phantom.image, studentLabels: phantom.labels, seriesUID: uid, input: recipe, modelVersion: "test")
        }
    }

    static func settings(steps: Int, margin: Double, teacher: String?, corrections: String) -> RetrainSettings {
        var s = RetrainSettings(
            window: window, steps: steps, batch: 1, learningRate: 1e-3, validationPercent: 20, promoteMargin: margin,
            minimumSeries: 3, threads: 1, teacher: teacher, corrections: corrections)
        s.calibrationWindows = 1
        s.phantomMatrix = 64
        s.rehearsalSeeds = [1]
        s.anchorSeeds = [2]
        s.anchorTolerance = 1
        s.minimumValidationSeries = 1
        return s
    }
}
