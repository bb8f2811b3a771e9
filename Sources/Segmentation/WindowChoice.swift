import Inference
import SlidingWindows
import Volumes

/// Picks the network window for a prepared volume: the model's window, shrunk along any axis
/// where the volume is smaller (to the next multiple of 16, at least 32, so no compute goes to
/// padding), and shallower when the merger's slice ring would not fit the memory budget.
enum WindowChoice {
    static func window(model: [Int], prepared size: Extent3, classCount: Int, budgetBytes: Int) throws -> WindowShape {
        func fit(_ wanted: Int, _ available: Int) -> Int { max(32, min(wanted, (available + 15) / 16 * 16)) }
        var d = fit(model[0], size.k)
        let h = fit(model[1], size.j), w = fit(model[2], size.i)
        // The ring holds (classes + 1) float planes per window slice; keep it within half the budget,
        // leaving the rest for the engine's activations and the labels.
        while d > 32, StreamingMerger.storageBytes(volumeSize: size, windowSize: Extent3(w, h, d), classCount: classCount) > budgetBytes / 2 {
            d -= 16
        }
        return try WindowShape(d: d, h: h, w: w)
    }
}
