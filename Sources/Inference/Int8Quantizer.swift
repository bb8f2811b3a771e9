import Foundation

/// Makes an int8 model directory from an fp32 one: calibrates activation scales with each
/// candidate method, measures each against fp32 on the windows, keeps the best, and records the
/// measurements and every tensor's fp32 range in the manifest.
public enum Int8Quantizer {
    public static let candidateMethods: [CalibrationMethod] = [.max, .percentile(99.99), .percentile(99.9)]

    /// Layers the int8 graph runs in fp32, and why (see LCOVNetGraph+Int8).
    public static let fp32Layers = ["Encode_BottleNeck_block5.conv1", "Encode_BottleNeck_block5.conv2_1",
                                    "Encode_BottleNeck_block5.conv2_2", "up1.conv"]

    public struct Report: Sendable {
        public var chosen: CalibrationMethod
        public var results: [(method: CalibrationMethod, agreement: Int8Agreement)]
        public var notes: [String]
    }

    public static func quantize(model: ModelDirectory, windows: [(shape: WindowShape, values: [Float])], sources: [String],
                                output: String, threads: Int, log: (String) -> Void = { _ in }) throws -> (ModelDirectory, Report) {
        guard !windows.isEmpty else { throw InferenceError("quantize: no calibration windows") }
        let calibrator = Int8Calibrator(model: model, threads: threads)
        var reference: [[Float]] = []
        for (i, w) in windows.enumerated() {
            try calibrator.add(window: w.values, shape: w.shape)
            let engine = try calibrator.fp32Engine(w.shape)
            var logits = [Float](repeating: 0, count: engine.classCount * w.shape.voxelCount)
            try w.values.withUnsafeBufferPointer { x in try logits.withUnsafeMutableBufferPointer { try engine.predict(window: x, into: $0) } }
            reference.append(logits)
            log("calibration window \(i + 1)/\(windows.count) \(w.shape)")
        }

        var results: [(method: CalibrationMethod, agreement: Int8Agreement)] = []
        for method in candidateMethods {
            var candidate = model
            candidate.manifest.quantization = .init(method: method.description, activationScales: calibrator.scales(method),
                                                    fp32Layers: fp32Layers, notes: [])
            var engines: [WindowShape: LCOVNetEngine] = [:]
            var agreements: [Int8Agreement] = []
            for (i, w) in windows.enumerated() {
                let engine = try engines[w.shape] ?? LCOVNetEngine(model: candidate, precision: .int8, threads: threads, window: w.shape)
                engines[w.shape] = engine
                var logits = [Float](repeating: 0, count: engine.classCount * w.shape.voxelCount)
                try w.values.withUnsafeBufferPointer { x in try logits.withUnsafeMutableBufferPointer { try engine.predict(window: x, into: $0) } }
                agreements.append(Int8Agreement.compare(fp32: reference[i], int8: logits, classes: engine.classCount))
            }
            let mean = Int8Agreement.mean(agreements)
            results.append((method, mean))
            log("\(method): \(mean)")
        }
        // Best argmax agreement; the smaller logit error breaks ties.
        let best = results.max { a, b in
            (a.agreement.argmaxAgreement, -a.agreement.relativeRMSE) < (b.agreement.argmaxAgreement, -b.agreement.relativeRMSE)
        }!

        let scales = calibrator.scales(best.method)
        var notes = ["calibrated on \(windows.count) windows from \(sources.count) inputs: \(sources.map { URL(fileURLWithPath: $0).lastPathComponent }.joined(separator: ", "))",
                     "measured against fp32 on the calibration windows:"]
        notes += results.map { "  \($0.method): \($0.agreement)" }
        notes.append("chosen: \(best.method) (highest argmax agreement)")
        notes.append("fp32 in the int8 graph: the bottleneck block and up1.conv (1/16 resolution, negligible time); conv2_2 of every LACB-H writes f32 because oneDNN's sigmoid rejects u8")
        notes.append("per-tensor fp32 range vs int8 range (u8 unless noted):")
        for name in calibrator.tensorNames {
            let (lo, hi) = calibrator.range(name)!
            let s = scales[name]!
            let representable = name == "input" ? "[\(fmt(-127 * s)), \(fmt(127 * s))] s8" : "[0, \(fmt(255 * s))]"
            var line = "  \(name): fp32 [\(fmt(lo)), \(fmt(hi))], int8 \(representable)"
            if name != "input" && lo < 0 { line += " — NEGATIVE VALUES WOULD CLIP" }
            notes.append(line)
        }
        var manifest = model.manifest
        manifest.precision = .int8
        manifest.quantization = .init(method: best.method.description, activationScales: scales, fp32Layers: fp32Layers, notes: notes)
        manifest.provenance.notes.append("quantized to int8 by lcovnet model quantize on \(ISO8601DateFormatter().string(from: Date()))")
        let out = ModelDirectory(path: output, manifest: manifest, weights: model.weights)
        try out.write()
        return (out, Report(chosen: best.method, results: results, notes: notes))
    }

    private static func fmt(_ v: Float) -> String { String(format: "%.4g", v) }
}
