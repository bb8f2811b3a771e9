import Inference
import SlidingWindows
import Volumes

/// The oneDNN engine as a sliding-window predictor. The engine is built for one window shape;
/// the window's (i, j, k) are the network's (W, H, D).
public struct EnginePredictor: WindowPredictor {
    public let engine: LCOVNetEngine

    public init(engine: LCOVNetEngine) {
        self.engine = engine
    }

    public var classCount: Int { engine.classCount }

    public func predict(
        _ input: UnsafeBufferPointer<Float>, windowSize: Extent3, into output: UnsafeMutableBufferPointer<Float>
    ) throws {
        precondition(
            windowSize == Extent3(engine.window.w, engine.window.h, engine.window.d),
            "window \(windowSize) does not match the engine's \(engine.window)")
        try engine.predict(window: input, into: output)
    }
}
