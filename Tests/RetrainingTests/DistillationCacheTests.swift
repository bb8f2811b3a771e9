import Foundation
import Phantom
import Preprocess
import TestSupport
import Testing
import Volumes

@testable import Retraining
@testable import Training

@Suite struct DistillationCacheTests {
    static func randomPatch(_ n: Int, window: [Int] = [32, 32, 32]) -> CachedPatch {
        var state = UInt64(n + 1) &* 0x9E37_79B9_7F4A_7C15
        let count = window.reduce(1, *)
        let image = (0..<count).map { _ -> Float in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(state >> 40) / Float(1 << 24)
        }
        return CachedPatch(
            header: .init(id: "", seriesUID: "", origin: [0, 0, 0], window: window, organs: [1]),
            image: image, studentLabels: (0..<count).map { UInt8($0 % 17) })
    }

    static let record = try! Preparation.prepare(
        PhantomGenerator.generate(PhantomOptions(seed: 1, matrix: 32)).image,
        as: RetrainingFixtures.recipe
    ).record

    @Test func patchesAndTeacherTargetsSurviveTheirCompactForm() throws {
        let patch = Self.randomPatch(3)
        let back = try CachedPatch.decode(try patch.encoded(), source: "test")
        #expect(back.studentLabels == patch.studentLabels && back.header == patch.header)
        // float16: relative error ≤ 2^-11 on values in [0, 1).
        #expect(zip(back.image, patch.image).allSatisfy { abs($0 - $1) <= 1e-3 * max(1, abs($1)) })

        let window = [32, 32, 32]
        let logits = (0..<4).map { s in
            (0..<(17 * window.map { $0 >> s }.reduce(1, *))).map { Float(($0 * 7919) % 1000) / 50 - 10 }
        }
        let norms: [[Float]] = (0..<4).map { (s: Int) -> [Float] in
            let count = window.map { $0 >> s }.reduce(1, *)
            return (0..<count).map { (n: Int) -> Float in Float((n * 31) % 97) / 8 + 0.5 }
        }
        let record = TeacherRecord(
            header: .init(patchID: "p", teacher: "t", window: window, classCount: 17),
            targets: TeacherTargets(logits: logits, featureNorms: norms))
        let decoded = try TeacherRecord.decode(try record.encoded(), source: "test")
        // float16 again: per-voxel norms within 2^-11 relative.
        for s in 0..<4 {
            #expect(zip(decoded.targets.featureNorms[s], norms[s]).allSatisfy { abs($0 - $1) <= 1e-3 * $1 })
        }
        for s in 0..<4 { #expect(zip(decoded.targets.logits[s], logits[s]).allSatisfy { abs($0 - $1) <= 0.01 }) }
        // Compact: at most half the float32 size of the logits and norms.
        let floats: Int = (logits + norms).reduce(0) { $0 + $1.count }
        #expect(try record.encoded().count < floats * 4 / 2 + 1000)
    }

    @Test func cacheStaysWithinItsBoundByEvictingTheOldestSeries() throws {
        let dir = try TemporaryDirectory("lcovnet-cache")
        let one = try Self.randomPatch(0).encoded().count
        // Room for about 3 series of 2 patches.
        let cache = try DistillationCache(path: dir.file("cache"), boundBytes: Int64(one * 7))
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        for n in 0..<12 {
            let evicted = try cache.add(
                seriesUID: "2.25.\(n)", modelVersion: "v", preparation: Self.record,
                patches: [Self.randomPatch(2 * n), Self.randomPatch(2 * n + 1)],
                now: start.addingTimeInterval(Double(n)))
            let m = try cache.manifest()
            #expect(m.bytes <= cache.boundBytes)
            // What is on disk is what the manifest lists: no orphan left by an eviction.
            let files = try FileManager.default.contentsOfDirectory(atPath: cache.patchesPath)
            let onDisk = try files.reduce(Int64(0)) {
                $0
                    + ((try FileManager.default.attributesOfItem(atPath: "\(cache.patchesPath)/\($1)")[.size]
                        as? NSNumber)?.int64Value ?? 0)
            }
            #expect(onDisk == m.bytes, "series \(n): \(files.count) files")
            if n >= 3 { #expect(evicted == ["2.25.\(n - 3)"]) }
        }
        #expect(try cache.manifest().series.map(\.seriesUID) == ["2.25.9", "2.25.10", "2.25.11"])

        // Teacher targets count against the bound too; storing one may evict the oldest series.
        let id = try cache.manifest().series.last!.patches[0].id
        let window = [32, 32, 32]
        let logits = (0..<4).map { s in [Float](repeating: 0.5, count: 17 * window.map { $0 >> s }.reduce(1, *)) }
        try cache.storeTeacher(
            TeacherTargetsRecord(
                patchID: id, teacher: "t", window: window,
                targets: TeacherTargets(
                    logits: logits,
                    featureNorms: (0..<4).map { s in [Float](repeating: 1, count: window.map { $0 >> s }.reduce(1, *)) }
                )))
        let m = try cache.manifest()
        #expect(m.bytes <= cache.boundBytes)
        #expect(m.series.last!.patches[0].teacher == "t")
        #expect(try cache.teacher(id)?.targets.logits[3] == logits[3])
    }

    @Test func filesNoManifestListsAreSweptOnceOld() throws {
        let dir = try TemporaryDirectory("lcovnet-cache")
        let cache = try DistillationCache(path: dir.file("cache"), boundBytes: 1 << 30)
        // A patch written by a process killed before it reached the manifest.
        let orphan = cache.patchFile("s0000-orphan-0")
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: orphan))
        try FileManager.default.setAttributes(
            [.modificationDate: Date(timeIntervalSinceNow: -3600)], ofItemAtPath: orphan)
        try cache.add(seriesUID: "2.25.1", modelVersion: "v", preparation: Self.record, patches: [Self.randomPatch(1)])
        #expect(!FileManager.default.fileExists(atPath: orphan))
        #expect(try cache.manifest().series.count == 1)
    }

    @Test func patchesCoverTheOrgansNotOnlyBackground() throws {
        // A 96×96×96 scan of background with six small organs in far corners and the middle.
        let size = Extent3(96, 96, 96)
        var labels = [UInt8](repeating: 0, count: size.count)
        let centres = [(8, 8, 8), (88, 8, 8), (8, 88, 88), (88, 88, 88), (48, 48, 48), (8, 88, 8)]
        for (n, c) in centres.enumerated() {
            for z in (c.2 - 3)...(c.2 + 3) {
                for y in (c.1 - 3)...(c.1 + 3) {
                    for x in (c.0 - 3)...(c.0 + 3) { labels[x + 96 * (y + 96 * z)] = UInt8(n + 1) }
                }
            }
        }
        let origins = PatchSelection.origins(labels: labels, size: size, window: [32, 32, 32], count: 6)
        var seen = Set<UInt8>()
        for o in origins {
            let crop = PatchSelection.crop(labels, size: size, origin: o, window: [32, 32, 32], fill: 0)
            let organs = Set(crop).subtracting([0])
            #expect(!organs.isEmpty, "window at \(o) holds background only")
            seen.formUnion(organs)
            #expect(o.allSatisfy { $0 >= 0 && $0 <= 64 })
        }
        #expect(seen == Set(1...6))
    }

    @Test func aSegmentedPhantomGivesPatchesWithItsOrgans() throws {
        let dir = try TemporaryDirectory("lcovnet-cache")
        let cache = try DistillationCache(path: dir.file("cache"), boundBytes: 1 << 30)
        try RetrainingFixtures.fill(cache, uids: ["2.25.77"], patches: 3)
        let entry = try #require(try cache.manifest().series.first)
        #expect(entry.patches.count == 3)
        let organs = Set(entry.patches.flatMap(\.organs))
        #expect(organs.count >= 8, "organs covered: \(organs.sorted())")
        let patch = try cache.patch(entry.patches[0].id)
        #expect(patch.image.count == 32 * 32 * 32 && patch.header.seriesUID == "2.25.77")
        #expect(Set(patch.studentLabels).subtracting([0]).map(Int.init).sorted() == patch.header.organs)
    }
}

/// A second round while one holds the lock fails at once with `LockHeld` (what `lcovnet retrain`
/// maps to exit 75), not with an error whose text must be matched; free, the lock is taken.
@Suite struct FileLockTests {
    @Test func aHeldLockIsReportedAsHeld() throws {
        let dir = try TemporaryDirectory()
        do {
            let held = try FileLock(dir.file("lock"))
            #expect(throws: LockHeld.self) { try FileLock(dir.file("lock"), wait: false) }
            withExtendedLifetime(held) {}
        }
        #expect(throws: Never.self) { try FileLock(dir.file("lock"), wait: false) }
    }
}
