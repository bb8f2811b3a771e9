import Foundation
import Inference
import Logging
import Training

/// Runs the teacher on cached patches that lack its targets (or hold another teacher's), and
/// stores them. Inference never waits for it: it runs in `lcovnet retrain`, at low priority.
public struct TeacherBackfill {
    public let cache: DistillationCache
    public let teacherPath: String
    public let threads: Int

    public init(cache: DistillationCache, teacherPath: String, threads: Int) {
        self.cache = cache
        self.teacherPath = teacherPath
        self.threads = threads
    }

    /// The teacher's identity as the cache records it: the record format, its file name, size and
    /// modification time (a retrained teacher at the same path counts as a new one, and so do
    /// records of an older format: the backfill rewrites them).
    public static func identity(of path: String) throws -> String {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        let size = (attributes[.size] as? NSNumber)?.int64Value ?? 0
        let time = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        return "\(TeacherRecord.magic):\(URL(fileURLWithPath: path).lastPathComponent):\(size):\(Int64(time))"
    }

    /// Returns how many patches were filled.
    @discardableResult
    public func run(logger: Logger, shouldStop: () -> Bool = { false }) throws -> Int {
        let identity = try Self.identity(of: teacherPath)
        let missing = try cache.manifest().series.flatMap(\.patches).filter { $0.teacher != identity }
        guard !missing.isEmpty else { return 0 }
        let network = try PatchNetwork(
            stateDict: SafeTensors(contentsOf: teacherPath), source: teacherPath, threads: threads)
        logger.info(
            "teacher backfill started",
            metadata: [
                "stage": "backfill", "patches": .stringConvertible(missing.count),
                "teacher.widths": "\(network.widths)"
            ])
        var done = 0
        let start = Date()
        for entry in missing {
            if shouldStop() { break }
            // A patch evicted since the manifest was read is skipped.
            guard let patch = try? cache.patch(entry.id) else { continue }
            let targets = try network.targets(image: patch.image, window: patch.header.window)
            try cache.storeTeacher(
                TeacherTargetsRecord(
                    patchID: entry.id, teacher: identity, window: patch.header.window, targets: targets))
            done += 1
        }
        logger.info(
            "teacher backfill finished",
            metadata: [
                "stage": "backfill", "patches": .stringConvertible(done),
                "duration_ms": .stringConvertible(Int(Date().timeIntervalSince(start) * 1000))
            ])
        return done
    }
}
