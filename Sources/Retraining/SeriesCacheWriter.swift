import Foundation
import ModelSpec
import Preprocess
import Volumes

/// Turns one segmented series into cached patches: from the scan as the segmentation prepared it
/// and the student's labels on that grid, picks windows that cover the organs and adds them to
/// the cache (which then keeps to its bound).
public struct SeriesCacheWriter: Sendable {
    public var cache: DistillationCache
    /// [D, H, W]
    public var window: [Int]
    public var patchesPerSeries: Int
    public var threads: Int

    public init(cache: DistillationCache, window: [Int], patchesPerSeries: Int, threads: Int) {
        self.cache = cache
        self.window = window
        self.patchesPerSeries = patchesPerSeries
        self.threads = threads
    }

    public struct Added: Sendable, Codable {
        public var patches: Int
        public var organsCovered: Int
        public var evictedSeries: Int
        public var cacheBytes: Int64
    }

    /// A scan the caller has not prepared (tests, anchors): prepared here, its labels carried over.
    public func add(
        scan: Volume<Int16>, studentLabels: Volume<UInt8>, seriesUID: String, input: InputPreparation,
        modelVersion: String
    ) throws -> Added {
        let prepared = try PreparedScan(scan: scan, labels: studentLabels, spec: input, threads: threads)
        return try add(prepared, seriesUID: seriesUID, modelVersion: modelVersion)
    }

    public func add(_ prepared: PreparedScan, seriesUID: String, modelVersion: String) throws -> Added {
        let origins = PatchSelection.origins(
            labels: prepared.labels, size: prepared.size, window: window, count: patchesPerSeries)
        let floor = prepared.image.min() ?? 0
        var organs = Set<Int>()
        let patches = origins.map { origin in
            let labels = PatchSelection.crop(
                prepared.labels, size: prepared.size, origin: origin, window: window, fill: UInt8(0))
            let present = Set(labels.map(Int.init)).subtracting([0]).sorted()
            organs.formUnion(present)
            return CachedPatch(
                header: .init(id: "", seriesUID: seriesUID, origin: origin, window: window, organs: present),
                image: PatchSelection.crop(
                    prepared.image, size: prepared.size, origin: origin, window: window, fill: floor),
                studentLabels: labels)
        }
        let evicted = try cache.add(
            seriesUID: seriesUID, modelVersion: modelVersion, preparation: prepared.record, patches: patches)
        return Added(
            patches: patches.count, organsCovered: organs.count, evictedSeries: evicted.count,
            cacheBytes: try cache.manifest().bytes)
    }
}

/// Runs cache writes one at a time on a queue of its own, so that they never delay a result: a
/// series that arrives while a write is in flight is not cached (the next one will be).
public final class BackgroundCacheWriter: @unchecked Sendable {
    // @unchecked: `busy` is only touched under `lock`.
    private let queue = DispatchQueue(label: "lcovnet.distillation-cache", qos: .utility)
    private let lock = NSLock()
    private var busy = false

    public init() {}

    /// Starts `work` unless a write is in flight; returns whether it started.
    @discardableResult
    public func submit(_ work: @escaping @Sendable () -> Void) -> Bool {
        let start = lock.withLock { () -> Bool in
            if busy { return false }
            busy = true
            return true
        }
        guard start else { return false }
        queue.async { [self] in
            work()
            lock.withLock { busy = false }
        }
        return true
    }

    /// Waits for the write in flight (tests, and a drain on shutdown).
    public func wait() { queue.sync {} }
}
