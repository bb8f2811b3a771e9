import Foundation
import ModelSpec
import Testing
import Volumes

@testable import Training

/// The window tiling that scores whole volumes (training evaluation, a round's anchor phantoms)
/// and the phantom windows a round rehearses on.
@Suite struct EvaluationTilingTests {
    /// A volume whose intensity is its label, so a predictor that reads labels off the tile
    /// reproduces the truth only if every voxel lands back where it came from.
    static func labelledVolume(_ size: Extent3) -> TrainingVolume {
        var labels = [UInt8](repeating: 0, count: size.count)
        for v in labels.indices { labels[v] = UInt8((v * 7 + v / 13) % 17) }
        return TrainingVolume(size: size, image: labels.map(Float.init), labels: labels, classCount: 17)
    }

    @Test(arguments: [Extent3(70, 45, 33), Extent3(64, 32, 32), Extent3(20, 18, 9)])
    func tilesPutEveryVoxelBack(size: Extent3) {
        let volume = Self.labelledVolume(size)
        var calls = 0
        let out = Evaluation.segment(volume, window: [32, 32, 64]) { tile -> [UInt8] in
            calls += 1
            #expect(tile.count == 32 * 32 * 64)
            return tile.map { UInt8($0) }
        }
        #expect(out == volume.labels)
        let expected = [size.k, size.j, size.i].enumerated().map { n, extent in
            let w = [32, 32, 64][n]
            return extent <= w ? 1 : (extent + w - 1) / w
        }.reduce(1, *)
        #expect(calls == expected)
        var score = VolumeDice(classCount: 17)
        score.add(predicted: out, truth: volume.labels)
        #expect(score.mean == 1)
    }

    @Test func volumeDiceAveragesOrgansOverTheVolumesHoldingThem() {
        var score = VolumeDice(classCount: 4)
        // Volume 1: organ 1 one of two voxels found (Dice 2·1/(1+2) = 2/3), organ 2 exact.
        score.add(predicted: [1, 0, 2, 2], truth: [1, 1, 2, 2])
        // Volume 2: organ 1 exact, organ 3 missed entirely; organ 2 absent (does not count).
        score.add(predicted: [1, 0, 0, 0], truth: [1, 0, 3, 0])
        let d = score.perOrgan
        #expect(d.count == 3 && abs(d[1]! - 5.0 / 6) < 1e-12 && d[2] == 1 && d[3] == 0)
        #expect(abs(score.mean - (5.0 / 6 + 1) / 3) < 1e-12)
    }

    @Test func rehearsalWindowsCarryPhantomsAndTheirTrueLabels() throws {
        let recipe = InputPreparation(
            orientation: "LPS", resample: .spacing([6, 6, 8]), normalization: .clipScale(min: -200, max: 300),
            bodyCrop: .init(thresholdHU: -500, marginMM: 10))
        var windows = try RehearsalWindows(
            seeds: [1], matrix: 64, spec: recipe, classCount: 17, window: [32, 32, 32], seed: 5, threads: 1)
        let volume = windows.volumes[0]
        let range = volume.minimum...volume.image.max()!
        var organs = Set<UInt8>()
        for _ in 0..<12 {
            let w = windows.next()
            #expect(w.image.count == 32 * 32 * 32 && w.labels.count == w.image.count && w.teacher == nil)
            organs.formUnion(w.labels)
            // Every window's intensities come from the prepared phantom (or its air padding).
            #expect(w.image.allSatisfy { range.contains($0) })
        }
        #expect(organs.count >= 4, "12 windows, two in three on an organ, saw \(organs.sorted())")
    }
}
