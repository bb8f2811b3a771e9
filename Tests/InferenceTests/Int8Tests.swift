import Foundation
import Inference
import ModelTestSupport
import Phantom
import TestSupport
import Testing
import Volumes

/// int8 against fp32 on phantom CT windows. There is no trained model yet: the weights are
/// random, so logit margins are small and agreement is lower than a trained model's would be.
@Suite(.serialized)
struct Int8Tests {
    static let window = try! WindowShape(d: 32, h: 64, w: 64)

    /// A centred 32×64×64 window of a z-scored phantom (D = slices, H = rows, W = columns).
    static func phantomWindow(seed: UInt64) -> [Float] {
        let p = PhantomGenerator.generate(PhantomOptions(seed: seed, matrix: 64, sliceSpacing: 5))
        let n = p.image.size
        let hu = p.image.voxels.map { Float($0) }
        let mean = hu.reduce(0, +) / Float(hu.count)
        let sd = (hu.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(hu.count)).squareRoot()
        let k0 = max(0, (n.k - window.d) / 2)
        var out = [Float](repeating: (-1000 - mean) / sd, count: window.voxelCount)
        for z in 0..<min(window.d, n.k) {
            for y in 0..<window.h {
                for x in 0..<window.w {
                    out[(z * window.h + y) * window.w + x] = (hu[p.image.offset(x, y, k0 + z)] - mean) / sd
                }
            }
        }
        return out
    }

    @Test func int8AgreesWithFp32OnPhantoms() throws {
        let dir = try TemporaryDirectory("lcovnet-int8")
        let model = try RandomModel.write(to: dir.file("fp32"), seed: 5, statistics: .farFromIdentity)
        let calibration = [Self.phantomWindow(seed: 1), Self.phantomWindow(seed: 2)]
        let (int8Model, report) = try Int8Quantizer.quantize(
            model: model, windows: calibration.map { (Self.window, $0) },
            sources: ["phantom-1", "phantom-2"], output: dir.file("int8"), threads: 2,
            heads: Int8Quantizer.candidateHeads)
        // z-scored input is signed: s8 input only, every method with and without the fp32 first block.
        #expect(report.results.count == Int8Quantizer.candidateMethods.count * Int8Quantizer.candidateHeads.count)
        #expect(report.results.allSatisfy { $0.inputType == "s8" })
        #expect(!report.notes.contains { $0.contains("NEGATIVE") }, "a u8 tensor had negative fp32 values")
        let reread = try ModelDirectory(path: dir.file("int8"))
        #expect(reread.manifest.precision == .int8)
        #expect(reread.manifest.quantization?.method == report.chosen.method.description)
        #expect(reread.manifest.quantization?.inputType == "s8")

        // Held out: phantoms the calibration never saw.
        let fp32 = try LCOVNetEngine(model: model, precision: .fp32, threads: 2, window: Self.window)
        let int8 = try LCOVNetEngine(model: int8Model, precision: .int8, threads: 2, window: Self.window)
        for engine in [fp32, int8] {
            let estimate = LCOVNetEngine.estimatedArenaBytes(
                window: Self.window, precision: engine.precision,
                fp32Layers: engine.precision == .int8 ? reread.manifest.quantization!.fp32Layers : [])
            #expect(
                engine.arenaBytes <= estimate && engine.arenaBytes * 10 >= estimate * 8,
                "\(engine.precision) arena \(engine.arenaBytes) bytes against the estimate \(estimate)")
        }
        var results: [Int8Agreement] = []
        for seed: UInt64 in [3, 4] {
            let x = Self.phantomWindow(seed: seed)
            var a = [Float](repeating: 0, count: 17 * Self.window.voxelCount)
            var b = a
            try x.withUnsafeBufferPointer { x in
                try a.withUnsafeMutableBufferPointer { try fp32.predict(window: x, into: $0) }
                try b.withUnsafeMutableBufferPointer { try int8.predict(window: x, into: $0) }
            }
            results.append(Int8Agreement.compare(fp32: a, int8: b, classes: 17))
        }
        let mean = Int8Agreement.mean(results)
        print("int8 vs fp32 on held-out phantoms (random weights, \(report.chosen.description)): \(mean)")
        #expect(mean.argmaxAgreement >= 0.95)
        #expect(mean.relativeRMSE <= 0.01)
    }

    /// Each LACB-H block can stay in fp32 inside the int8 graph: the engine builds, its arena
    /// stays within the estimate, and with every block in fp32 the logits come much closer to
    /// fp32 than the all-int8 graph's (only the Up convolutions, poolings and the bottleneck's
    /// input stay quantized).
    @Test func fp32BlocksInsideTheInt8Graph() throws {
        let dir = try TemporaryDirectory("lcovnet-int8-blocks")
        let model = try RandomModel.write(to: dir.file("fp32"), seed: 7, statistics: .farFromIdentity)
        let (int8Model, _) = try Int8Quantizer.quantize(
            model: model, windows: [(Self.window, Self.phantomWindow(seed: 1))],
            sources: ["phantom-1"], output: dir.file("int8"), threads: 2)
        let x = Self.phantomWindow(seed: 3)
        let fp32 = try LCOVNetEngine(model: model, precision: .fp32, threads: 2, window: Self.window)
        var reference = [Float](repeating: 0, count: 17 * Self.window.voxelCount)
        try x.withUnsafeBufferPointer { x in
            try reference.withUnsafeMutableBufferPointer { try fp32.predict(window: x, into: $0) }
        }
        func agreement(_ blocks: [String]) throws -> Int8Agreement {
            var m = int8Model
            m.manifest.quantization!.fp32Layers += blocks
            let engine = try LCOVNetEngine(model: m, precision: .int8, threads: 2, window: Self.window)
            let estimate = LCOVNetEngine.estimatedArenaBytes(
                window: Self.window, precision: .int8, fp32Layers: m.manifest.quantization!.fp32Layers)
            #expect(
                engine.arenaBytes <= estimate && engine.arenaBytes * 10 >= estimate * 7,
                "fp32 \(blocks): arena \(engine.arenaBytes) bytes against the estimate \(estimate)")
            var logits = reference
            try x.withUnsafeBufferPointer { x in
                try logits.withUnsafeMutableBufferPointer { try engine.predict(window: x, into: $0) }
            }
            let a = Int8Agreement.compare(fp32: reference, int8: logits, classes: 17)
            print(
                "fp32 \(blocks.isEmpty ? "none" : blocks.joined(separator: "+")): arena \(engine.arenaBytes / Self.window.voxelCount) bytes per voxel, \(a)"
            )
            return a
        }
        let none = try agreement([])
        for block in Int8Quantizer.blocksAllowedInFP32 { _ = try agreement([block]) }
        let all = try agreement(Int8Quantizer.blocksAllowedInFP32)
        #expect(
            all.relativeRMSE * 2 < none.relativeRMSE,
            "all blocks in fp32: RMSE \(all.relativeRMSE) against \(none.relativeRMSE) all-int8")
        #expect(all.argmaxAgreement >= none.argmaxAgreement)
    }

    @Test func int8NeedsACalibratedModel() throws {
        let dir = try TemporaryDirectory("lcovnet-int8")
        let model = try RandomModel.write(to: dir.file("fp32"), seed: 6, statistics: .farFromIdentity)
        let error = #expect(throws: InferenceError.self) {
            try LCOVNetEngine(model: model, precision: .int8, threads: 1, window: Self.window)
        }
        #expect(error?.message.contains("lcovnet model quantize") == true)
    }
}
