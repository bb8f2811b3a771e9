import Export
import Foundation
import Preprocess
import Training
import Volumes

/// The distillation cache under `<work>/distillation`: for each segmented series a few patches
/// (prepared input and the student's labels), later the teacher's targets for each, and
/// `manifest.json` listing them. Every file is written atomically, the manifest last, under a
/// file lock; files the manifest does not list (a kill between the two) are swept. The cache
/// keeps below its size bound by evicting the series added longest ago.
public final class DistillationCache: @unchecked Sendable {
    // @unchecked: no stored state changes after init; every change goes through the file lock.
    public let path: String
    public let boundBytes: Int64

    public struct PatchEntry: Codable, Sendable, Equatable {
        public var id: String
        public var bytes: Int64
        /// Identity of the teacher whose targets are stored, nil until the backfill ran.
        public var teacher: String?
        public var teacherBytes: Int64?
        public var organs: [Int]
    }

    public struct SeriesEntry: Codable, Sendable {
        public var seriesUID: String
        /// Seconds since 1970 when the series was added (eviction order).
        public var added: Double
        /// The student that segmented it.
        public var modelVersion: String
        /// How the scan was prepared: carries a corrected label map onto the patches.
        public var preparation: PreparationRecord
        public var patches: [PatchEntry]

        public var bytes: Int64 { patches.reduce(0) { $0 + $1.bytes + ($1.teacherBytes ?? 0) } }
    }

    public struct Manifest: Codable, Sendable {
        public var format = "lcovnet-distillation-cache"
        public var version = 1
        public var series: [SeriesEntry] = []
        public var bytes: Int64 { series.reduce(0) { $0 + $1.bytes } }
    }

    public init(path: String, boundBytes: Int64) throws {
        self.path = path
        self.boundBytes = boundBytes
        try FileManager.default.createDirectory(atPath: patchesPath, withIntermediateDirectories: true)
    }

    var patchesPath: String { "\(path)/patches" }
    var manifestPath: String { "\(path)/manifest.json" }
    var lockPath: String { "\(path)/lock" }
    func patchFile(_ id: String) -> String { "\(patchesPath)/\(id).patch.zst" }
    func teacherFile(_ id: String) -> String { "\(patchesPath)/\(id).teacher.zst" }

    public func manifest() throws -> Manifest {
        guard let data = FileManager.default.contents(atPath: manifestPath) else { return Manifest() }
        do { return try JSONDecoder().decode(Manifest.self, from: data) } catch {
            throw CacheError("\(manifestPath): unreadable manifest (\(error))")
        }
    }

    private func write(_ manifest: Manifest) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try AtomicFile.write([UInt8](try encoder.encode(manifest)), to: manifestPath)
    }

    /// Adds (or replaces) a series' patches, then evicts the oldest series beyond the bound.
    /// Returns the series evicted.
    @discardableResult
    public func add(
        seriesUID: String, modelVersion: String, preparation: PreparationRecord, patches: [CachedPatch],
        now: Date = Date()
    ) throws -> [String] {
        let prefix = "s" + StableHash.hex(seriesUID)
        var entries: [PatchEntry] = []
        // Patch files first (atomically each), under names no manifest lists yet.
        let stamp = String(UInt64(now.timeIntervalSince1970 * 1000), radix: 36)
        for (n, var patch) in patches.enumerated() {
            patch.header.id = "\(prefix)-\(stamp)-\(n)"
            patch.header.seriesUID = seriesUID
            let bytes = try patch.encoded()
            try AtomicFile.write(bytes, to: patchFile(patch.header.id))
            entries.append(
                PatchEntry(
                    id: patch.header.id, bytes: Int64(bytes.count), teacher: nil, teacherBytes: nil,
                    organs: patch.header.organs))
        }
        return try FileLock.withLock(lockPath) {
            var m = try manifest()
            let replaced = m.series.filter { $0.seriesUID == seriesUID }
            m.series.removeAll { $0.seriesUID == seriesUID }
            m.series.append(
                SeriesEntry(
                    seriesUID: seriesUID, added: now.timeIntervalSince1970, modelVersion: modelVersion,
                    preparation: preparation, patches: entries))
            var evicted: [SeriesEntry] = []
            m.series.sort { $0.added < $1.added }
            while m.bytes > boundBytes, !m.series.isEmpty { evicted.append(m.series.removeFirst()) }
            try write(m)
            for entry in replaced + evicted { removeFiles(of: entry) }
            sweep(keeping: m)
            return evicted.map(\.seriesUID)
        }
    }

    /// Stores a teacher's targets for a patch still in the cache (a patch evicted meanwhile is skipped).
    public func storeTeacher(_ targets: TeacherTargetsRecord) throws {
        let record = targets.record
        let bytes = try record.encoded()
        let file = teacherFile(record.header.patchID)
        try FileLock.withLock(lockPath) {
            var m = try manifest()
            guard let s = m.series.firstIndex(where: { $0.patches.contains { $0.id == record.header.patchID } }),
                let p = m.series[s].patches.firstIndex(where: { $0.id == record.header.patchID })
            else { return }
            try AtomicFile.write(bytes, to: file)
            m.series[s].patches[p].teacher = record.header.teacher
            m.series[s].patches[p].teacherBytes = Int64(bytes.count)
            var evicted: [SeriesEntry] = []
            while m.bytes > boundBytes, m.series.count > 1 { evicted.append(m.series.removeFirst()) }
            try write(m)
            for entry in evicted { removeFiles(of: entry) }
        }
    }

    public func patch(_ id: String) throws -> CachedPatch {
        guard let data = FileManager.default.contents(atPath: patchFile(id)) else {
            throw CacheError("\(patchFile(id)): missing")
        }
        return try CachedPatch.decode([UInt8](data), source: patchFile(id))
    }

    /// The teacher's targets for a patch, if the backfill stored them.
    public func teacher(_ id: String) throws -> TeacherTargetsRecord? {
        guard let data = FileManager.default.contents(atPath: teacherFile(id)) else { return nil }
        return TeacherTargetsRecord(record: try TeacherRecord.decode([UInt8](data), source: teacherFile(id)))
    }

    private func removeFiles(of entry: SeriesEntry) {
        for p in entry.patches {
            unlink(patchFile(p.id))
            unlink(teacherFile(p.id))
        }
    }

    /// Removes files no manifest entry names (left by a kill before the manifest was written).
    private func sweep(keeping m: Manifest) {
        let known = Set(m.series.flatMap { $0.patches.map(\.id) })
        for name in (try? FileManager.default.contentsOfDirectory(atPath: patchesPath)) ?? [] {
            let id = name.hasPrefix(".") ? nil : name.components(separatedBy: ".").first
            if let id, known.contains(id) { continue }
            // Temporary names of a writer in flight in another process are left alone unless old.
            if name.hasPrefix(".tmp-"),
                let info = try? FileManager.default.attributesOfItem(atPath: "\(patchesPath)/\(name)"),
                let date = info[.modificationDate] as? Date, Date().timeIntervalSince(date) < 3600
            {
                continue
            }
            // A patch written but not yet listed by a concurrent `add` is listed moments later; only
            // files older than a minute are orphans.
            if let info = try? FileManager.default.attributesOfItem(atPath: "\(patchesPath)/\(name)"),
                let date = info[.modificationDate] as? Date, Date().timeIntervalSince(date) < 60
            {
                continue
            }
            unlink("\(patchesPath)/\(name)")
        }
    }
}

/// A teacher's targets for one patch, as stored (the public face of TeacherRecord).
public struct TeacherTargetsRecord: Sendable {
    var record: TeacherRecord
    public var patchID: String { record.header.patchID }
    public var teacher: String { record.header.teacher }
    public var targets: Training.TeacherTargets { record.targets }

    init(record: TeacherRecord) { self.record = record }

    public init(patchID: String, teacher: String, window: [Int], targets: Training.TeacherTargets) {
        record = TeacherRecord(
            header: .init(
                patchID: patchID, teacher: teacher, window: window,
                classCount: targets.logits[0].count / window.reduce(1, *)),
            targets: targets)
    }
}
