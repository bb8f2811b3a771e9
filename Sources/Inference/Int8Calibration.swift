import Foundation

/// How an activation's int8 range is chosen from its fp32 values on calibration windows.
public enum CalibrationMethod: Sendable, Equatable, CustomStringConvertible {
    /// The largest |value| seen.
    case max
    /// The given percentile of |value| (values above it saturate).
    case percentile(Double)

    public var description: String {
        switch self {
        case .max: "max"
        case .percentile(let p): "percentile-\(p)"
        }
    }
}

/// Collects fp32 activation statistics of LCOV-Net on calibration windows and turns them into
/// int8 activation scales (u8 for the non-negative activations, s8 for the input window).
public final class Int8Calibrator {
    public let model: ModelDirectory
    public let threads: Int
    private var engines: [WindowShape: LCOVNetEngine] = [:]
    /// Per tensor: the largest |value|, the smallest value, and a strided sample of |values|.
    private var maxima: [String: Float] = [:]
    private var minima: [String: Float] = [:]
    private var highs: [String: Float] = [:]
    private var samples: [String: [Float]] = [:]
    public private(set) var windowCount = 0

    /// Values kept per tensor and window for percentiles.
    static let samplesPerWindow = 1 << 16

    public init(model: ModelDirectory, threads: Int) {
        self.model = model
        self.threads = threads
    }

    func fp32Engine(_ shape: WindowShape) throws -> LCOVNetEngine {
        if let e = engines[shape] { return e }
        let e = try LCOVNetEngine(model: model, precision: .fp32, threads: threads, window: shape)
        engines[shape] = e
        return e
    }

    /// Runs the fp32 network on one window and records its activations.
    public func add(window: [Float], shape: WindowShape) throws {
        let engine = try fp32Engine(shape)
        var logits = [Float](repeating: 0, count: engine.classCount * shape.voxelCount)
        try window.withUnsafeBufferPointer { x in
            try logits.withUnsafeMutableBufferPointer { out in
                try engine.calibrate(window: x, into: out) { name, values in
                    var hi: Float = 0
                    var lo = Float.infinity
                    var top = -Float.infinity
                    for v in values {
                        hi = Swift.max(hi, abs(v))
                        lo = Swift.min(lo, v)
                        top = Swift.max(top, v)
                    }
                    maxima[name] = Swift.max(maxima[name] ?? 0, hi)
                    minima[name] = Swift.min(minima[name] ?? .infinity, lo)
                    highs[name] = Swift.max(highs[name] ?? -.infinity, top)
                    let stride = Swift.max(1, values.count / Self.samplesPerWindow)
                    // An odd stride so that channels-last data is not sampled from one channel only.
                    let odd = stride % 2 == 0 ? stride + 1 : stride
                    samples[name, default: []].append(
                        contentsOf: Swift.stride(from: 0, to: values.count, by: odd).map { abs(values[$0]) })
                }
            }
        }
        windowCount += 1
    }

    /// Tensor names seen, sorted.
    public var tensorNames: [String] { maxima.keys.sorted() }

    /// fp32 range of a tensor over all calibration windows.
    public func range(_ name: String) -> (min: Float, max: Float)? {
        guard let hi = highs[name], let lo = minima[name] else { return nil }
        return (lo, hi)
    }

    /// The largest |value| a method keeps for a tensor.
    public func clippingPoint(_ name: String, _ method: CalibrationMethod) -> Float {
        switch method {
        case .max: return maxima[name] ?? 0
        case .percentile(let p):
            let s = (samples[name] ?? []).sorted()
            guard !s.isEmpty else { return 0 }
            return s[Swift.min(s.count - 1, Int((p / 100 * Double(s.count - 1)).rounded()))]
        }
    }

    /// Activation scales: the input window is s8 (|x| ≤ 127·scale) or u8 (x ≤ 255·scale; only
    /// for an input never negative), everything else u8 (≤ 255·scale).
    public func scales(_ method: CalibrationMethod, inputType: String = "s8") -> [String: Float] {
        var out: [String: Float] = [:]
        for name in tensorNames {
            let limit = Swift.max(clippingPoint(name, method), 1e-6)
            out[name] = name == "input" && inputType == "s8" ? limit / 127 : limit / 255
        }
        return out
    }

    /// Whether the input was never negative on the calibration windows (u8 can hold it).
    public var inputIsNonNegative: Bool { (minima["input"] ?? -1) >= 0 }
}

/// Agreement of an int8 engine with the fp32 engine on windows.
public struct Int8Agreement: Sendable, CustomStringConvertible {
    /// Fraction of voxels whose argmax class is the same.
    public var argmaxAgreement: Double
    /// Root-mean-square logit difference over the fp32 logit range.
    public var relativeRMSE: Double
    /// Largest logit difference over the fp32 logit range.
    public var relativeMaxError: Double
    /// Mean Dice of int8 labels against fp32 labels over classes present in either.
    public var meanDice: Double

    public var description: String {
        String(
            format: "argmax agreement %.5f, mean Dice %.5f, RMSE %.5f and max error %.4f of the logit range",
            argmaxAgreement, meanDice, relativeRMSE, relativeMaxError)
    }

    /// Compares logits (17×N, C order) of the two engines.
    public static func compare(fp32: [Float], int8: [Float], classes: Int) -> Int8Agreement {
        let n = fp32.count / classes
        let lo = fp32.min() ?? 0
        let hi = fp32.max() ?? 1
        let range = Double(Swift.max(hi - lo, 1e-12))
        var squared = 0.0
        var worst = 0.0
        for i in fp32.indices {
            let d = Double(abs(fp32[i] - int8[i]))
            squared += d * d
            worst = Swift.max(worst, d)
        }
        func labels(_ l: [Float]) -> [Int] {
            (0..<n).map { v in (0..<classes).max { l[$0 * n + v] < l[$1 * n + v] }! }
        }
        let a = labels(fp32)
        let b = labels(int8)
        var same = 0
        var intersection = [Int](repeating: 0, count: classes)
        var countA = intersection
        var countB = intersection
        for v in 0..<n {
            if a[v] == b[v] {
                same += 1
                intersection[a[v]] += 1
            }
            countA[a[v]] += 1
            countB[b[v]] += 1
        }
        let present = (0..<classes).filter { countA[$0] + countB[$0] > 0 }
        let dice = present.map { 2 * Double(intersection[$0]) / Double(countA[$0] + countB[$0]) }
        return Int8Agreement(
            argmaxAgreement: Double(same) / Double(n),
            relativeRMSE: (squared / Double(fp32.count)).squareRoot() / range,
            relativeMaxError: worst / range, meanDice: dice.reduce(0, +) / Double(Swift.max(dice.count, 1)))
    }

    /// Mean over several comparisons.
    public static func mean(_ all: [Int8Agreement]) -> Int8Agreement {
        let n = Double(Swift.max(all.count, 1))
        return Int8Agreement(
            argmaxAgreement: all.map(\.argmaxAgreement).reduce(0, +) / n,
            relativeRMSE: all.map(\.relativeRMSE).reduce(0, +) / n,
            relativeMaxError: all.map(\.relativeMaxError).max() ?? 0, meanDice: all.map(\.meanDice).reduce(0, +) / n)
    }
}
