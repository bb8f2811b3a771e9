import Volumes

/// Sliding-window inference as a pure function of (source, plan, predictor): windows are run
/// row by row along k, merged with Gaussian weights, and each run of slices is handed to
/// `consume` as soon as no later window can touch it.
public struct SlidingWindowInference {
    public let plan: WindowPlan
    public let importance: GaussianImportance

    public init(plan: WindowPlan) {
        self.plan = plan
        importance = GaussianImportance(windowSize: plan.windowSize)
    }

    /// Bytes held at once besides the predictor's own: merger ring, one input and one output window.
    public func workingBytes(classCount: Int) -> Int {
        Self.workingBytes(volumeSize: plan.volumeSize, windowSize: plan.windowSize, classCount: classCount)
    }

    public static func workingBytes(volumeSize: Extent3, windowSize: Extent3, classCount: Int) -> Int {
        StreamingMerger.storageBytes(volumeSize: volumeSize, windowSize: windowSize, classCount: classCount)
            + (classCount + 2) * windowSize.count * MemoryLayout<Float>.stride
    }

    /// - Parameter progress: called after each window with (windows done, windows in all).
    public func run(
        source: some WindowSource, predictor: some WindowPredictor,
        progress: (Int, Int) -> Void = { _, _ in },
        consume: (ScoreSlab) throws -> Void
    ) throws {
        precondition(source.size == plan.volumeSize)
        let w = plan.windowSize
        let classes = predictor.classCount
        let merger = StreamingMerger(
            volumeSize: plan.volumeSize, windowSize: w, classCount: classes, importance: importance)
        var input = [Float](repeating: 0, count: w.count)
        var output = [Float](repeating: 0, count: classes * w.count)
        for (n, origin) in plan.origins.enumerated() {
            if let slab = merger.finalize(upTo: origin.z) { try consume(slab) }
            input.withUnsafeMutableBufferPointer { source.read(origin: origin, size: w, into: $0) }
            try input.withUnsafeBufferPointer { inBuffer in
                try output.withUnsafeMutableBufferPointer { try predictor.predict(inBuffer, windowSize: w, into: $0) }
            }
            output.withUnsafeBufferPointer { merger.aggregate($0, at: origin) }
            progress(n + 1, plan.origins.count)
        }
        if let slab = merger.finalize(upTo: plan.volumeSize.k) { try consume(slab) }
    }
}
