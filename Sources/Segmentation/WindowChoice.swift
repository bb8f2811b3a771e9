import Inference
import SlidingWindows
import Volumes

/// Picks the network window for a prepared volume: the model's window, shrunk along any axis
/// where the volume is smaller (to the next multiple of 16, at least 32, so no compute goes to
/// padding), then shallower (and at last narrower) until the engine's activations and the
/// merger's slice ring fit the memory budget together.
enum WindowChoice {
    static func window(model: [Int], prepared size: Extent3, classCount: Int, precision: Precision,
                       budgetBytes: Int) throws -> WindowShape {
        func fit(_ wanted: Int, _ available: Int) -> Int { max(32, min(wanted, (available + 15) / 16 * 16)) }
        var d = fit(model[0], size.k), h = fit(model[1], size.j), w = fit(model[2], size.i)
        func bytes() throws -> Int {
            LCOVNetEngine.estimatedArenaBytes(window: try WindowShape(d: d, h: h, w: w), precision: precision)
                + StreamingMerger.storageBytes(volumeSize: size, windowSize: Extent3(w, h, d), classCount: classCount)
        }
        while d > 32, try bytes() > budgetBytes { d -= 16 }
        while max(h, w) > 64, try bytes() > budgetBytes {
            if h >= w { h -= 16 } else { w -= 16 }
        }
        return try WindowShape(d: d, h: h, w: w)
    }

}
