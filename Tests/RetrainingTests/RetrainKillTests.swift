import Foundation
import Inference
import ModelTestSupport
import TestSupport
import Testing

@testable import Retraining

/// The real `lcovnet retrain` binary killed with SIGKILL at random instants: the current model
/// keeps serving, no half-written version ever becomes visible, and the next round completes.
@Suite struct RetrainKillTests {
    static let binary: String = {
        let exe =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var folder = URL(fileURLWithPath: exe).deletingLastPathComponent()
        if folder.path.hasSuffix(".xctest") { folder.deleteLastPathComponent() }
        return folder.appendingPathComponent("lcovnet").path
    }()

    @Test(
        .enabled(
            if: FileManager.default.isExecutableFile(atPath: binary),
            "needs the lcovnet binary (swift build --build-tests)"))
    func aKillDuringARoundLeavesTheCurrentModelServing() throws {
        let dir = try TemporaryDirectory("lcovnet-kill")
        let base = try RandomModel.write(
            to: dir.file("base"), input: RetrainingFixtures.recipe, window: RetrainingFixtures.window)
        for name in ["watch", "work", "results", "quarantine"] {
            try FileManager.default.createDirectory(atPath: dir.file(name), withIntermediateDirectories: true)
        }
        let cache = try DistillationCache(path: dir.file("work/distillation"), boundBytes: 1 << 30)
        try RetrainingFixtures.fill(cache, uids: RetrainingFixtures.uids(validation: 1, training: 3))
        let store = try ModelStore(path: dir.file("work/models"))
        try store.adopt(model: base.path, version: "20260101T000000Z-baseline")
        try store.promote("20260101T000000Z-baseline", reason: "test")
        let config = dir.file("lcovnet.toml")
        try """
        [paths]
        watch = "\(dir.file("watch"))"
        work = "\(dir.file("work"))"
        output = "\(dir.file("results"))"
        quarantine = "\(dir.file("quarantine"))"
        [retrain]
        teacher = "\(base.path)/weights.safetensors"
        patch_window = [32, 32, 32]
        steps = 6
        batch = 1
        minimum_series = 3
        threads = 1
        calibration_windows = 1
        minimum_validation_series = 1
        rehearsal_phantoms = 1
        anchor_phantoms = 1
        phantom_matrix = 64
        """.write(toFile: config, atomically: true, encoding: .utf8)

        let statusPath = dir.file("work/retrain/status.json")
        /// Runs a round; kills it `delay` seconds after its status.json first shows `phase` (nil: never).
        func run(killIn phase: String?, delay: Double = 0) throws -> (status: Int32, killedIn: String?) {
            let before = RoundStatus.read(statusPath)?.round
            let p = Process()
            p.executableURL = URL(fileURLWithPath: Self.binary)
            p.arguments = ["retrain", "--config", config]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            var killedIn: String?
            if let phase {
                while p.isRunning {
                    if let s = RoundStatus.read(statusPath), s.round != before, s.phase == phase {
                        Thread.sleep(forTimeInterval: delay)
                        killedIn = RoundStatus.read(statusPath)?.phase
                        kill(p.processIdentifier, SIGKILL)
                        break
                    }
                    Thread.sleep(forTimeInterval: 0.02)
                }
            }
            p.waitUntilExit()
            return (p.terminationStatus, killedIn)
        }
        func checkServing() throws {
            #expect(store.current() == "20260101T000000Z-baseline")
            #expect(store.versions() == ["20260101T000000Z-baseline"])
            _ = try ModelDirectory(path: store.currentPath()!)
            _ = try cache.manifest()
        }

        // Kills at random instants inside each phase, the candidate's staging and evaluation included.
        var generator = SystemRandomNumberGenerator()
        var kills: [String] = []
        for phase in ["backfill", "phantoms", "fine-tune", "quantize", "evaluate"] {
            let (status, killedIn) = try run(killIn: phase, delay: Double.random(in: 0...0.5, using: &generator))
            #expect(status == SIGKILL || killedIn == nil, "\(phase)")
            if let killedIn { kills.append(killedIn) }
            try checkServing()
        }
        #expect(kills.count >= 3 && kills.contains("quantize"), "killed in \(kills)")
        // A complete round afterwards: it cleans up what the kills left and decides.
        #expect(try run(killIn: nil).status == 0)
        let status = try #require(RoundStatus.read(dir.file("work/retrain/status.json")))
        #expect(status.decision == .keptCurrent, "\(status.reason ?? "")")
        try checkServing()
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: store.path).allSatisfy { !$0.hasPrefix(".incoming-") })
    }
}
