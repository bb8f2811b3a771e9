import Foundation

/// Makes an int8 model directory from an fp32 one: calibrates activation scales with each
/// candidate method, measures each against fp32 on the windows, keeps the best, and records the
/// measurements and every tensor's fp32 range in the manifest.
public enum Int8Quantizer {
    public static let candidateMethods: [CalibrationMethod] = [.max, .percentile(99.99), .percentile(99.9)]

    /// Layers the int8 graph always runs in fp32 (see LCOVNetGraph+Int8): the bottleneck at 1/16
    /// resolution and up1's convolution, which cost nothing there.
    public static let fp32Layers = [
        "Encode_BottleNeck_block5.conv1", "Encode_BottleNeck_block5.conv2_1",
        "Encode_BottleNeck_block5.conv2_2", "up1.conv"
    ]

    /// Layers that may be tried in fp32 on top of those, cheapest first: none, or the whole first
    /// encoder block. On the 2600-step model it raised the calibration windows' mean Dice against
    /// fp32 from 0.968 to 0.986 but whole phantoms' agreement only from 0.979 to 0.982; on the
    /// 3400-step model it gained nothing (0.975 → 0.973). It costs 1.4× the time per window and
    /// 2× the activations' memory, so it is an option (`model quantize --try-fp32-first-block`),
    /// not the default (docs/INFERENCE.md).
    public static let candidateHeads: [[String]] = [[], ["Encode_block1"]]

    /// The blocks the int8 graph can run in fp32 (LCOVNetGraph+Int8).
    public static let blocksAllowedInFP32 = (1...4).map { "Encode_block\($0)" } + (1...4).map { "Decode_block\($0)" }

    /// A candidate is chosen over a cheaper one only when its mean Dice against fp32 is higher by
    /// more than this: an fp32 block costs time and memory at full resolution.
    public static let headMargin = 0.002

    public struct Candidate: Sendable {
        public var method: CalibrationMethod
        public var inputType: String
        public var head: [String]
        public var agreement: Int8Agreement

        public var description: String {
            "\(method), \(head.isEmpty ? "\(inputType) input" : "fp32 \(head.joined(separator: "+"))"): \(agreement)"
        }
    }

    public struct Report: Sendable {
        public var chosen: Candidate
        public var results: [Candidate]
        public var notes: [String]
    }

    public static func quantize(
        model: ModelDirectory, windows: [(shape: WindowShape, values: [Float])], sources: [String],
        output: String, threads: Int, heads: [[String]] = [[]],
        log: (String) -> Void = { _ in }
    ) throws -> (ModelDirectory, Report) {
        guard !windows.isEmpty else { throw InferenceError("quantize: no calibration windows") }
        let calibrator = Int8Calibrator(model: model, threads: threads)
        var reference: [[Float]] = []
        for (i, w) in windows.enumerated() {
            try calibrator.add(window: w.values, shape: w.shape)
            let engine = try calibrator.fp32Engine(w.shape)
            var logits = [Float](repeating: 0, count: engine.classCount * w.shape.voxelCount)
            try w.values.withUnsafeBufferPointer { x in
                try logits.withUnsafeMutableBufferPointer { try engine.predict(window: x, into: $0) }
            }
            reference.append(logits)
            log("calibration window \(i + 1)/\(windows.count) \(w.shape)")
        }

        // With an fp32 first block the window enters in f32: the input type does not matter.
        let inputTypes = calibrator.inputIsNonNegative ? ["s8", "u8"] : ["s8"]
        var results: [Candidate] = []
        for head in heads {
            for inputType in head.contains("Encode_block1") ? ["s8"] : inputTypes {
                for method in candidateMethods {
                    let q = ModelManifest.Quantization(
                        method: method.description, activationScales: calibrator.scales(method, inputType: inputType),
                        fp32Layers: fp32Layers + head, notes: [], inputType: inputType)
                    let agreement = try measure(model, q, windows: windows, reference: reference, threads: threads)
                    results.append(Candidate(method: method, inputType: inputType, head: head, agreement: agreement))
                    log(results.last!.description)
                }
            }
        }
        let best = choose(results, heads: heads)

        var notes = [
            "calibrated on \(windows.count) windows from \(sources.count) inputs: \(sources.map { URL(fileURLWithPath: $0).lastPathComponent }.joined(separator: ", "))",
            "measured against fp32 on the calibration windows (method, then the input type or the layers kept in fp32):"
        ]
        notes += results.map { "  \($0.description)" }
        notes.append(
            "chosen: \(best.description.prefix { $0 != ":" }) (highest mean Dice against fp32; an fp32 block only when it gains more than \(headMargin))"
        )
        notes.append(
            "fp32 in the int8 graph: the bottleneck block and up1.conv (1/16 resolution, negligible time)"
                + (best.head.isEmpty ? "" : ", and \(best.head.joined(separator: " and ")) (chosen above)")
                + "; conv2_2 of every LACB-H writes f32 because oneDNN's sigmoid rejects u8")
        notes.append("per-tensor fp32 range vs int8 range (u8 unless noted):")
        let scales = calibrator.scales(best.method, inputType: best.inputType)
        for name in calibrator.tensorNames {
            let (lo, hi) = calibrator.range(name)!
            let s = scales[name]!
            let representable =
                name == "input" && best.inputType == "s8"
                ? "[\(fmt(-127 * s)), \(fmt(127 * s))] s8" : "[0, \(fmt(255 * s))]"
            var line = "  \(name): fp32 [\(fmt(lo)), \(fmt(hi))], int8 \(representable)"
            if lo < 0 && !(name == "input" && best.inputType == "s8") { line += " — NEGATIVE VALUES WOULD CLIP" }
            notes.append(line)
        }
        var manifest = model.manifest
        manifest.precision = .int8
        manifest.quantization = .init(
            method: best.method.description, activationScales: scales, fp32Layers: fp32Layers + best.head,
            notes: notes, inputType: best.inputType)
        manifest.provenance.notes.append(
            "quantized to int8 by lcovnet model quantize on \(ISO8601DateFormatter().string(from: Date()))")
        let out = ModelDirectory(path: output, manifest: manifest, weights: model.weights)
        try out.write()
        return (out, Report(chosen: best, results: results, notes: notes))
    }

    /// The int8 engine of one candidate against the fp32 logits on every window.
    static func measure(
        _ model: ModelDirectory, _ q: ModelManifest.Quantization, windows: [(shape: WindowShape, values: [Float])],
        reference: [[Float]], threads: Int
    ) throws -> Int8Agreement {
        var candidate = model
        candidate.manifest.quantization = q
        var engines: [WindowShape: LCOVNetEngine] = [:]
        var agreements: [Int8Agreement] = []
        for (i, w) in windows.enumerated() {
            let engine =
                try engines[w.shape]
                ?? LCOVNetEngine(model: candidate, precision: .int8, threads: threads, window: w.shape)
            engines[w.shape] = engine
            var logits = [Float](repeating: 0, count: engine.classCount * w.shape.voxelCount)
            try w.values.withUnsafeBufferPointer { x in
                try logits.withUnsafeMutableBufferPointer { try engine.predict(window: x, into: $0) }
            }
            agreements.append(Int8Agreement.compare(fp32: reference[i], int8: logits, classes: engine.classCount))
        }
        return Int8Agreement.mean(agreements)
    }

    /// The best mean Dice (argmax agreement, then the smaller logit error, break ties) among the
    /// candidates of the cheapest fp32 head that comes within `headMargin` of the best of all.
    static func choose(_ results: [Candidate], heads: [[String]]) -> Candidate {
        func better(_ a: Candidate, _ b: Candidate) -> Bool {
            (a.agreement.meanDice, a.agreement.argmaxAgreement, -a.agreement.relativeRMSE)
                > (b.agreement.meanDice, b.agreement.argmaxAgreement, -b.agreement.relativeRMSE)
        }
        let overall = results.max { better($1, $0) }!
        for head in heads {
            let group = results.filter { $0.head == head }
            if let top = group.max(by: { better($1, $0) }),
                top.agreement.meanDice >= overall.agreement.meanDice - headMargin
            {
                return top
            }
        }
        return overall
    }

    private static func fmt(_ v: Float) -> String { String(format: "%.4g", v) }
}
