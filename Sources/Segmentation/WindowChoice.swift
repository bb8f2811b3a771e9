import Inference
import SlidingWindows
import Volumes

/// Picks the network window for a prepared volume: the model's window, shrunk along any axis
/// where the volume is smaller (to the next multiple of 16, at least 32, so no compute goes to
/// padding), then shallower (and at last narrower) until what grows with the window fits in
/// half the memory budget, and in what the scan's length leaves of it (`heldBytes`).
enum WindowChoice {
    /// What a segmentation holds whatever the window, beside the scan: the labels on the scan's
    /// grid (1 byte a voxel), the prepared volume (4 bytes a prepared voxel), and a fixed
    /// reserve for the process itself (code, libraries, weights: ≈ 50 MiB measured), the
    /// labeler's held planes and the allocator's slack. The largest-component pass at the end
    /// runs after the window's memory is freed. Measured on an 812-slice scan (docs/BENCHMARKS.md).
    /// - Parameter keepsPrepared: the labels on the prepared grid are kept too (a byte a voxel).
    static func heldBytes(scan: Extent3, prepared: Extent3, keepsPrepared: Bool = false) -> Int {
        scan.count + prepared.count * (MemoryLayout<Float>.stride + (keepsPrepared ? 1 : 0)) + reserveBytes
    }

    static let reserveBytes = 96 << 20

    /// The model's window shrunk only where the volume is smaller: what any budget large enough gets.
    static func fitted(model: [Int], prepared size: Extent3) throws -> WindowShape {
        func fit(_ wanted: Int, _ available: Int) -> Int { max(32, min(wanted, (available + 15) / 16 * 16)) }
        return try WindowShape(d: fit(model[0], size.k), h: fit(model[1], size.j), w: fit(model[2], size.i))
    }

    /// - Parameter fp32Layers: an int8 model's layers kept in fp32 (they change its activations' size).
    static func window(
        model: [Int], prepared size: Extent3, classCount: Int, precision: Precision, fp32Layers: [String] = [],
        widths: [Int] = LCOVNetArchitecture.widths, budgetBytes: Int, heldBytes: Int = 0
    ) throws -> WindowShape {
        let full = try fitted(model: model, prepared: size)
        var d = full.d
        var h = full.h
        var w = full.w
        // What grows with the window (the engine's activations, one input and one output window,
        // the merger's ring and a finalized slab) gets at most half the budget, and no more than
        // the labels on the scan's grid and the other holdings leave: a long scan gets a
        // shallower window, not a bigger peak.
        func bytes() throws -> Int {
            windowBytes(
                try WindowShape(d: d, h: h, w: w), prepared: size, classCount: classCount, precision: precision,
                fp32Layers: fp32Layers, widths: widths)
        }
        let budgetBytes = min(budgetBytes / 2, budgetBytes - heldBytes)
        while d > 32, try bytes() > budgetBytes { d -= 16 }
        while max(h, w) > 64, try bytes() > budgetBytes {
            if h >= w { h -= 16 } else { w -= 16 }
        }
        return try WindowShape(d: d, h: h, w: w)
    }

    /// What the smallest window this choice falls back to (32 deep, at most 64 across) needs
    /// while it runs over a volume of `size`: below this no budget can be kept.
    static func smallestWindowBytes(
        model: [Int], prepared size: Extent3, classCount: Int, precision: Precision,
        fp32Layers: [String], widths: [Int]
    ) throws -> Int {
        let full = try fitted(model: model, prepared: size)
        return windowBytes(
            try WindowShape(d: 32, h: min(full.h, 64), w: min(full.w, 64)), prepared: size, classCount: classCount,
            precision: precision, fp32Layers: fp32Layers, widths: widths)
    }

    /// What grows with the window while it runs: the engine's activations, one input and one
    /// output window, the merger's ring and a finalized slab.
    static func windowBytes(
        _ window: WindowShape, prepared size: Extent3, classCount: Int, precision: Precision,
        fp32Layers: [String], widths: [Int]
    ) -> Int {
        LCOVNetEngine.estimatedArenaBytes(window: window, precision: precision, fp32Layers: fp32Layers, widths: widths)
            + SlidingWindowInference.workingBytes(
                volumeSize: size, windowSize: window.extent, classCount: classCount)
            + classCount * window.d * size.sliceCount * MemoryLayout<Float>.stride
    }

}
