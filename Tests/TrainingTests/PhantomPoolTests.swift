import Foundation
import TestSupport
import Testing
import Volumes

@testable import Training

/// The refreshed pool: its seeds at a step are what replacing one slot after every `every`
/// steps gives, and a run (and a resumed run) draws from exactly those phantoms.
@Suite struct PhantomPoolTests {
    @Test func seedsAtAStepReplayTheReplacements() {
        let pool = PhantomPool(initial: [1, 2, 3], refresh: PhantomRefresh(every: 4, seeds: [10, 11, 12, 13, 14]))
        var replayed: [UInt64] = [1, 2, 3]
        for step in 1...100 {
            if let (slot, seed) = pool.replacement(afterStep: step) { replayed[slot] = seed }
            #expect(pool.seeds(atStep: step) == replayed, "step \(step)")
        }
        #expect(pool.seeds(atStep: 3) == [1, 2, 3])
        #expect(pool.seeds(atStep: 4) == [10, 2, 3])
        #expect(pool.seeds(atStep: 12) == [10, 11, 12])
        #expect(pool.seeds(atStep: 16) == [13, 11, 12])
        // The stream wraps around once used up.
        #expect(pool.seeds(atStep: 24) == [13, 14, 10])
        #expect(PhantomPool(initial: [1, 2], refresh: nil).seeds(atStep: 50) == [1, 2])
        // What the prefetch makes ahead: the next replacement's step and seed.
        #expect(pool.nextReplacement(afterStep: 0)! == (4, 10) && pool.nextReplacement(afterStep: 3)! == (4, 10))
        #expect(pool.nextReplacement(afterStep: 4)! == (8, 11) && pool.nextReplacement(afterStep: 23)! == (24, 10))
        #expect(PhantomPool(initial: [1, 2], refresh: nil).nextReplacement(afterStep: 5) == nil)
    }

    /// Made ahead on a thread of its own or when due, the refreshed volumes are the same, and so
    /// is every step's loss.
    @Test func aRunWithPrefetchTrainsExactlyAsOneWithout() throws {
        let dir = try TemporaryDirectory("lcovnet-prefetch")
        var c = TrainerTests.configuration()
        c.phantomSeeds = [1, 2]
        c.phantomRefresh = PhantomRefresh(every: 2, seeds: [3, 4, 5])
        c.steps = 6
        c.checkpointEvery = 6
        func losses(prefetch: Bool) throws -> [String] {
            let trainer = try Trainer(configuration: c, directory: dir.file("run-\(prefetch)"))
            var lines: [String] = []
            try trainer.run(prefetch: prefetch) { line in
                if line.contains("\"step\"") {
                    lines.append(
                        line.components(separatedBy: ",").filter { $0.contains("\"loss\"") || $0.contains("\"dice\"") }
                            .joined())
                }
            }
            #expect(trainer.poolSeeds == [5, 4])
            return lines
        }
        let with = try losses(prefetch: true)
        let without = try losses(prefetch: false)
        #expect(with.count == 6 && with == without, "\(with) vs \(without)")
    }

    @Test func aRunAndItsResumptionDrawFromTheRefreshedPool() throws {
        let dir = try TemporaryDirectory("lcovnet-pool")
        var c = TrainerTests.configuration()
        c.phantomSeeds = [1, 2]
        c.phantomRefresh = PhantomRefresh(every: 2, seeds: [3, 4, 5])
        c.steps = 4
        c.checkpointEvery = 2
        let run = dir.file("run")
        var events: [String] = []
        let trainer = try Trainer(configuration: c, directory: run)
        try trainer.run { if $0.contains("\"phantom\"") { events.append($0) } }
        // After steps 2 (slot 0 ← 3); the replacement due after the last step is not made.
        #expect(events.count == 1 && events[0].contains("\"seed\":3"), "\(events)")
        #expect(trainer.poolSeeds == [3, 4])
        let expected = try [UInt64(3), 2].map {
            try TrainingVolume.phantom(seed: $0, matrix: c.phantomMatrix, spec: c.input, classCount: 17, threads: 1)
        }
        #expect(trainer.sampler.volumes.map { $0.image } == expected.map { $0.image })

        // Resumed from its step-4 checkpoint with more steps: the pool is rebuilt as of step 4.
        c.steps = 6
        var built: [String] = []
        let resumed = try Trainer(configuration: c, directory: run) {
            if $0.contains("\"phantom\"") { built.append($0) }
        }
        #expect(resumed.step == 4)
        #expect(built.count == 2 && built[0].contains("\"seed\":3") && built[1].contains("\"seed\":4"), "\(built)")
        try resumed.run()
        #expect(resumed.poolSeeds == [5, 4] && resumed.step == 6)
    }
}

/// A run on synthesized CT can keep phantoms in its pool: the seeds `phantomEvery` names are
/// phantoms (drawn without touching the anatomy folder), the others synthesized.
@Suite struct PhantomMixTests {
    @Test func everyNthSeedOfASynthesizedRunIsAPhantom() throws {
        var c = TrainerTests.configuration()
        c.anatomies = "/nonexistent/word-maps"
        #expect(!c.drawsPhantom(seed: 10))
        c.phantomEvery = 5
        #expect(c.drawsPhantom(seed: 10) && !c.drawsPhantom(seed: 11))
        let phantom = try TrainingVolume.sample(seed: 10, c, classCount: 17)
        let direct = try TrainingVolume.phantom(
            seed: 10, matrix: c.phantomMatrix, spec: c.input, classCount: 17, threads: 1)
        #expect(phantom.labels == direct.labels && phantom.image == direct.image)
        #expect(throws: (any Error).self) { try TrainingVolume.sample(seed: 11, c, classCount: 17) }
        c.anatomies = nil
        #expect(c.drawsPhantom(seed: 11))
    }
}
