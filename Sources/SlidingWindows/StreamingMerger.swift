import Dispatch
import Volumes

/// Averages overlapping window predictions with importance weights, keeping only the slices
/// that windows still to come can touch.
///
/// Windows must arrive in rows of ascending k (`WindowPlan.origins` order). Storage is a ring
/// of `min(window depth, volume depth)` slices of (classes + 1) score planes, so memory is set
/// by the window and the plane size, never by the number of slices.
public final class StreamingMerger {
    public let volumeSize: Extent3
    public let windowSize: Extent3
    public let classCount: Int
    private let importance: [Float]
    private let ringDepth: Int
    private var sums: [Float]  // [c][ring slot][j][i]
    private var weights: [Float]  // [ring slot][j][i]
    /// First slice not yet finalized.
    public private(set) var finalizedUpTo = 0

    public init(volumeSize: Extent3, windowSize: Extent3, classCount: Int, importance: GaussianImportance) {
        precondition(importance.windowSize == windowSize)
        self.volumeSize = volumeSize
        self.windowSize = windowSize
        self.classCount = classCount
        self.importance = importance.weights
        ringDepth = min(windowSize.k, volumeSize.k)
        sums = [Float](repeating: 0, count: classCount * ringDepth * volumeSize.sliceCount)
        weights = [Float](repeating: 0, count: ringDepth * volumeSize.sliceCount)
    }

    /// Bytes of score storage a merger of this shape holds.
    public static func storageBytes(volumeSize: Extent3, windowSize: Extent3, classCount: Int) -> Int {
        (classCount + 1) * min(windowSize.k, volumeSize.k) * volumeSize.sliceCount * MemoryLayout<Float>.stride
    }

    /// Adds one window's scores (C×D×H×W, i fastest) at `origin`; parts outside the volume
    /// (padding) are ignored.
    public func aggregate(_ scores: UnsafeBufferPointer<Float>, at origin: SIMD3<Int>) {
        precondition(scores.count == classCount * windowSize.count)
        precondition(origin.z >= finalizedUpTo, "a window reached back into finalized slices")
        let n = volumeSize
        let w = windowSize
        let plane = n.sliceCount
        let ring = ringDepth
        let kRange = max(0, -origin.z)..<min(w.k, n.k - origin.z)
        let jRange = max(0, -origin.y)..<min(w.j, n.j - origin.y)
        let iRange = max(0, -origin.x)..<min(w.i, n.i - origin.x)
        guard !kRange.isEmpty, !jRange.isEmpty, !iRange.isEmpty else { return }
        let classes = classCount
        sums.withUnsafeMutableBufferPointer { sumBuffer in
            weights.withUnsafeMutableBufferPointer { weightBuffer in
                importance.withUnsafeBufferPointer { importanceBuffer in
                    nonisolated(unsafe) let sum = sumBuffer
                    nonisolated(unsafe) let weight = weightBuffer
                    nonisolated(unsafe) let gauss = importanceBuffer
                    nonisolated(unsafe) let input = scores
                    // One task per class plus one for the weights: disjoint outputs.
                    DispatchQueue.concurrentPerform(iterations: classes + 1) { c in
                        for k in kRange {
                            let slot = (origin.z + k) % ring
                            for j in jRange {
                                let src = i0(k, j, w)
                                let dst = slot * plane + (origin.y + j) * n.i + origin.x
                                if c == classes {
                                    for i in iRange { weight[dst + i] += gauss[src + i] }
                                } else {
                                    let cs = c * w.count + src
                                    let cd = c * ring * plane + dst
                                    for i in iRange { sum[cd + i] += gauss[src + i] * input[cs + i] }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Finalizes slices [finalizedUpTo, limit): no later window may touch them.
    public func finalize(upTo limit: Int) -> ScoreSlab? {
        let end = min(limit, volumeSize.k)
        guard end > finalizedUpTo else { return nil }
        let n = volumeSize
        let plane = n.sliceCount
        let depth = end - finalizedUpTo
        let slabSize = Extent3(n.i, n.j, depth)
        let classes = classCount
        let ring = ringDepth
        let first = finalizedUpTo
        let slabCount = slabSize.count
        var out = [Float](repeating: 0, count: classes * slabCount)
        var inverse = [Float](repeating: 0, count: plane)
        // Raw buffers and contiguous rows: indexing the class's arrays voxel by voxel paid an
        // exclusivity check per access and strode across the ring.
        out.withUnsafeMutableBufferPointer { out in
            sums.withUnsafeMutableBufferPointer { sums in
                weights.withUnsafeMutableBufferPointer { weights in
                    inverse.withUnsafeMutableBufferPointer { inverse in
                        for d in 0..<depth {
                            let slot = (first + d) % ring
                            let weightRow = weights.baseAddress! + slot * plane
                            for v in 0..<plane {
                                let w = weightRow[v]
                                inverse[v] = w > 0 ? 1 / w : 0
                                weightRow[v] = 0
                            }
                            for c in 0..<classes {
                                let sumRow = sums.baseAddress! + c * ring * plane + slot * plane
                                let outRow = out.baseAddress! + c * slabCount + d * plane
                                for v in 0..<plane {
                                    outRow[v] = sumRow[v] * inverse[v]
                                    sumRow[v] = 0
                                }
                            }
                        }
                    }
                }
            }
        }
        let slab = ScoreSlab(slices: finalizedUpTo..<end, size: slabSize, classCount: classCount, scores: out)
        finalizedUpTo = end
        return slab
    }
}

@inline(__always) private func i0(_ k: Int, _ j: Int, _ w: Extent3) -> Int { w.i * (j + w.j * k) }
