import Foundation
import SlidingWindows
import Testing
import Volumes

/// A deterministic stand-in network whose output depends on the input values and on the
/// position inside the window, so that wrong offsets or weights change the result.
struct AnalyticPredictor: WindowPredictor {
    let classCount = 5

    func predict(
        _ input: UnsafeBufferPointer<Float>, windowSize w: Extent3, into output: UnsafeMutableBufferPointer<Float>
    ) throws {
        for c in 0..<classCount {
            for v in 0..<w.count {
                let i = v % w.i
                let j = (v / w.i) % w.j
                output[c * w.count + v] = sin(Float(c + 1) * input[v] * 0.37) + 0.01 * Float(i - j) * Float(c)
            }
        }
    }
}

/// The unbounded reference: full-volume sums and weights, finalized once at the end.
func wholeVolumeLabels(source: VolumeWindowSource, plan: WindowPlan, predictor: AnalyticPredictor) throws -> [UInt8] {
    let n = plan.volumeSize
    let w = plan.windowSize
    let c = predictor.classCount
    let gauss = GaussianImportance(windowSize: w).weights
    var sums = [Float](repeating: 0, count: c * n.count)
    var weights = [Float](repeating: 0, count: n.count)
    var input = [Float](repeating: 0, count: w.count)
    var output = [Float](repeating: 0, count: c * w.count)
    for o in plan.origins {
        input.withUnsafeMutableBufferPointer { source.read(origin: o, size: w, into: $0) }
        try input.withUnsafeBufferPointer { i in
            try output.withUnsafeMutableBufferPointer { try predictor.predict(i, windowSize: w, into: $0) }
        }
        for k in 0..<w.k {
            for j in 0..<w.j {
                for i in 0..<w.i {
                    let x = o.x + i
                    let y = o.y + j
                    let z = o.z + k
                    guard x < n.i, y < n.j, z < n.k else { continue }
                    let v = x + n.i * (y + n.j * z)
                    let s = i + w.i * (j + w.j * k)
                    weights[v] += gauss[s]
                    for cc in 0..<c { sums[cc * n.count + v] += gauss[s] * output[cc * w.count + s] }
                }
            }
        }
    }
    return (0..<n.count).map { v in
        var best = 0
        for cc in 1..<c where sums[cc * n.count + v] / weights[v] > sums[best * n.count + v] / weights[v] { best = cc }
        return UInt8(best)
    }
}

@Suite struct SlidingWindowTests {
    @Test(arguments: [(100, 64, 0.5), (160, 64, 0.5), (64, 64, 0.5), (30, 32, 0.25), (257, 96, 0.6)])
    func positionsCoverTheAxisWithTheOverlap(size: Int, window: Int, overlap: Double) {
        let p = WindowPlan.positions(size: size, window: window, overlap: overlap)
        #expect(p.first == 0)
        #expect(p.last! + window >= size)
        #expect(p == p.sorted())
        for (a, b) in zip(p, p.dropFirst()) { #expect(b - a <= Int(Double(window) * (1 - overlap))) }
    }

    @Test func gaussianPeaksAtTheCentreAndStaysPositive() {
        let g = GaussianImportance(windowSize: Extent3(9, 9, 5))
        #expect(g.weights[4 + 9 * (4 + 9 * 2)] == 1)
        #expect(g.weights.min()! > 0)
        #expect(g.weights[2 + 9 * (4 + 9 * 2)] < g.weights[3 + 9 * (4 + 9 * 2)])
        #expect(g.weights[0] == 1e-3, "the floor holds at the corner")
    }

    /// Slice counts that are multiples of nothing in particular, windows that do not divide them.
    @Test(arguments: [Extent3(37, 29, 53), Extent3(40, 33, 101), Extent3(20, 20, 11)])
    func streamingEqualsWholeVolumeMerging(size: Extent3) throws {
        var volume = Volume<Float>(geometry: Geometry(size: size), repeating: 0)
        for n in volume.voxels.indices { volume.voxels[n] = Float((n * 7919) % 1000) / 100 }
        let source = VolumeWindowSource(volume: volume, padding: 0)
        let plan = WindowPlan(volumeSize: size, windowSize: Extent3(16, 16, 16), overlap: 0.5)
        var streamed = [UInt8]()
        var slabs: [Range<Int>] = []
        try SlidingWindowInference(plan: plan).run(source: source, predictor: AnalyticPredictor()) { slab in
            slabs.append(slab.slices)
            streamed += slab.argmax()
        }
        #expect(slabs.count > 1 || size.k <= 16, "slices were finalized before the end")
        #expect(slabs.map(\.lowerBound) == [0] + slabs.dropLast().map(\.upperBound), "contiguous slabs")
        #expect(slabs.last?.upperBound == size.k)
        let reference = try wholeVolumeLabels(source: source, plan: plan, predictor: AnalyticPredictor())
        #expect(streamed == reference)
    }

    @Test func mergerStorageDoesNotGrowWithSliceCount() {
        let window = Extent3(160, 160, 64)
        let short = StreamingMerger.storageBytes(volumeSize: Extent3(256, 256, 160), windowSize: window, classCount: 17)
        let long = StreamingMerger.storageBytes(volumeSize: Extent3(256, 256, 800), windowSize: window, classCount: 17)
        #expect(short == long)
        #expect(short == 18 * 64 * 256 * 256 * 4)
    }

    @Test func averageOfIdenticalWindowsIsTheWindowValue() throws {
        // A constant predictor must come out unchanged whatever the weights and overlaps.
        struct Constant: WindowPredictor {
            let classCount = 2
            func predict(
                _ input: UnsafeBufferPointer<Float>, windowSize: Extent3, into output: UnsafeMutableBufferPointer<Float>
            ) throws {
                for v in 0..<windowSize.count {
                    output[v] = 0.25
                    output[windowSize.count + v] = 0.75
                }
            }
        }
        let size = Extent3(23, 19, 31)
        let source = VolumeWindowSource(volume: Volume(geometry: Geometry(size: size), repeating: 0), padding: 0)
        let plan = WindowPlan(volumeSize: size, windowSize: Extent3(16, 16, 16), overlap: 0.5)
        try SlidingWindowInference(plan: plan).run(source: source, predictor: Constant()) { slab in
            let n = slab.size.count
            #expect(slab.scores[0..<n].allSatisfy { abs($0 - 0.25) < 1e-6 })
            #expect(slab.scores[n...].allSatisfy { abs($0 - 0.75) < 1e-6 })
        }
    }
}
