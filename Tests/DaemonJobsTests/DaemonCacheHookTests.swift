import DaemonJobs
import Foundation
import Ingest
import Logging
import ModelSpec
import ModelTestSupport
import Phantom
import PhantomDicom
import TestSupport
import Testing

@testable import Daemon
@testable import Retraining

/// The daemon's segment job with a tiny random model: each series is cached for retraining after
/// its result is written, and a model promoted between two jobs serves the second one.
@Suite struct DaemonCacheHookTests {
    /// A small phantom on a coarse grid, so that caching runs in seconds in a debug build.
    enum Fixture {
        static let recipe = RandomModel.coarseRecipe
        static let window = [32, 32, 32]
        static let phantom = PhantomGenerator.generate(PhantomOptions(seed: 1, matrix: 64))
    }

    @Test func eachSeriesIsCachedAndAPromotedModelServesTheNextJob() async throws {
        let dir = try TemporaryDirectory("lcovnet-hook")
        var c = DaemonConfiguration.defaults
        c.paths.work = dir.file("work")
        c.job.threads = 1
        c.retrain.patchWindow = Fixture.window
        c.retrain.patchesPerSeries = 2
        let store = try ModelStore(path: c.modelsPath)
        _ = try RandomModel.write(
            to: dir.file("a"), input: Fixture.recipe, window: Fixture.window, seed: 1, version: "A")
        _ = try RandomModel.write(
            to: dir.file("b"), input: Fixture.recipe, window: Fixture.window, seed: 2, version: "B")
        try store.adopt(model: dir.file("a"), version: "v1")
        try store.promote("v1", reason: "test")
        let logger = Logger(label: "test")
        let processor = try SegmentSeriesProcessor(configuration: c, logger: logger)

        func segment(_ n: Int) async throws -> (uid: String, modelVersion: String) {
            let written = try DicomSeriesWriter().write(Fixture.phantom.image, to: dir.file("in\(n)"))
            try FileManager.default.createDirectory(atPath: dir.file("staging\(n)"), withIntermediateDirectories: true)
            let series = ClaimedSeries(
                jobID: "j\(n)", seriesUID: nil, inputDirectory: dir.file("in\(n)"), files: written.files)
            guard case .decoded(let decoded, _) = try await processor.decode(series: series, logger: logger) else {
                Issue.record("series \(n) was rejected")
                return ("", "")
            }
            // Decode, compute, write: the compute stage is where a promoted model is picked up.
            let computed = try await processor.compute(decoded, series: series, logger: logger)
            let outcome = try await processor.write(
                computed, series: series, into: dir.file("staging\(n)"), logger: logger)
            #expect(outcome == .completed(seriesUID: written.seriesInstanceUID))
            struct Provenance: Decodable {
                struct Model: Decodable { var version: String }
                var model: Model
            }
            let p = try JSONDecoder().decode(
                Provenance.self, from: Data(contentsOf: URL(fileURLWithPath: dir.file("staging\(n)/provenance.json"))))
            processor.waitForCacheWrites()
            return (written.seriesInstanceUID, p.model.version)
        }

        let first = try await segment(1)
        #expect(first.modelVersion == "A")
        try store.adopt(model: dir.file("b"), version: "v2")
        try store.promote("v2", reason: "test")
        let second = try await segment(2)
        #expect(second.modelVersion == "B")

        let cache = try DistillationCache(path: c.cachePath, boundBytes: 1 << 30)
        let series = try cache.manifest().series
        #expect(series.map(\.seriesUID) == [first.uid, second.uid])
        #expect(series.map(\.modelVersion) == ["A", "B"])
        #expect(series.allSatisfy { $0.patches.count == 2 })
        let patch = try cache.patch(series[0].patches[0].id)
        #expect(patch.header.window == Fixture.window && patch.image.count == 32 * 32 * 32)
    }
}
