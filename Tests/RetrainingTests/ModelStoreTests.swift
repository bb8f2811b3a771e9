import Foundation
import Inference
import ModelTestSupport
import TestSupport
import Testing

@testable import Retraining

@Suite struct ModelStoreTests {
    @Test func promoteRollbackAndListKeepCurrentConsistent() throws {
        let dir = try TemporaryDirectory("lcovnet-models")
        let base = try RandomModel.write(to: dir.file("base"), input: RetrainingFixtures.recipe, window: [32, 32, 32])
        let store = try ModelStore(path: dir.file("work/models"))
        #expect(store.current() == nil && store.versions().isEmpty)
        try store.adopt(model: base.path, version: "20260101T000000Z-baseline")
        try store.promote("20260101T000000Z-baseline", reason: "test")
        #expect(store.current() == "20260101T000000Z-baseline")

        // A staged version is invisible and cannot be promoted until committed.
        let staged = try store.staging("20260102T000000Z")
        _ = try RandomModel.write(to: staged, input: RetrainingFixtures.recipe, window: [32, 32, 32], seed: 2)
        #expect(store.versions() == ["20260101T000000Z-baseline"])
        #expect(throws: CacheError.self) { try store.promote("20260102T000000Z", reason: "test") }
        #expect(store.current() == "20260101T000000Z-baseline")
        try store.commit(staged: staged, version: "20260102T000000Z")
        try store.promote("20260102T000000Z", reason: "better")
        #expect(store.current() == "20260102T000000Z")
        #expect(try ModelDirectory(path: store.currentPath()!).manifest.modelVersion == "test-random")
        #expect(store.history().stack == ["20260101T000000Z-baseline", "20260102T000000Z"])

        #expect(try store.rollback() == "20260101T000000Z-baseline")
        #expect(store.current() == "20260101T000000Z-baseline")
        #expect(throws: CacheError.self) { try store.rollback() }
        #expect(store.history().events.map(\.action) == ["promote", "promote", "rollback"])

        // A folder that is not a model (a half-written one) is never listed nor promoted.
        try FileManager.default.createDirectory(
            atPath: dir.file("work/models/20260103T000000Z"), withIntermediateDirectories: true)
        try Data("{".utf8).write(to: URL(fileURLWithPath: dir.file("work/models/20260103T000000Z/manifest.json")))
        #expect(throws: (any Error).self) { try store.promote("20260103T000000Z", reason: "test") }
        #expect(store.current() == "20260101T000000Z-baseline")
        store.sweepStaging()
        #expect(
            !((try? FileManager.default.contentsOfDirectory(atPath: store.path)) ?? []).contains {
                $0.hasPrefix(".incoming-")
            })
    }
}
