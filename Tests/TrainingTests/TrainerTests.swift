import Foundation
import Inference
import ModelSpec
import TestSupport
import Testing

@testable import Training

/// A few steps on tiny phantoms (CI never trains for real): the loss is finite, checkpoints
/// resume where they stopped, distillation runs, and the exported model gives the Inference
/// engine the same logits as the training network in evaluation mode.
@Suite struct TrainerTests {
    static func configuration() -> TrainingConfiguration {
        var c = TrainingConfiguration()
        c.window = [32, 32, 32]
        c.batch = 1
        c.steps = 3
        c.warmup = 2
        c.threads = 1  // oneDNN with 2 OpenMP threads stalls on a shared, loaded 2-core machine
        c.phantomSeeds = [1]
        c.phantomMatrix = 64
        c.checkpointEvery = 3
        // Coarse voxels keep the prepared phantoms small.
        c.input = InputPreparation(
            orientation: "LPS", resample: .spacing(SIMD3(8, 8, 8)), normalization: .clipScale(min: -200, max: 300),
            bodyCrop: .init(thresholdHU: -500, marginMM: 10))
        return c
    }

    @Test func trainsResumesDistilsAndExports() throws {
        let dir = try TemporaryDirectory("lcovnet-train")
        var c = Self.configuration()
        let run = dir.file("student")
        try Trainer(configuration: c, directory: run).run()
        let log = try String(contentsOfFile: "\(run)/log.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(log.count == 3)
        let first = try JSONDecoder().decode(Trainer.StepRecord.self, from: Data(log[0].utf8))
        #expect(first.loss.isFinite && first.loss > 0)

        // A step logged after the last checkpoint (the run was killed before the next one) is
        // taken again on resume and logged once.
        let handle = try #require(FileHandle(forWritingAtPath: "\(run)/log.jsonl"))
        handle.seekToEndOfFile()
        handle.write(Data(String(log[2]).replacingOccurrences(of: "\"step\":3", with: "\"step\":4").utf8 + [10]))
        try handle.close()
        c.steps = 5
        let resumed = try Trainer(configuration: c, directory: run)
        #expect(resumed.step == 3)
        try resumed.run()
        #expect(resumed.step == 5)
        let steps = try String(contentsOfFile: "\(run)/log.jsonl", encoding: .utf8).split(separator: "\n")
            .map { try JSONDecoder().decode(Trainer.StepRecord.self, from: Data($0.utf8)).step }
        #expect(steps == [1, 2, 3, 4, 5])

        // Distillation from the run above (a same-width "teacher" suffices to exercise the path).
        var d = Self.configuration()
        d.steps = 2
        let distiller = try Trainer(
            configuration: d, directory: dir.file("distilled"), teacher: "\(run)/checkpoint.safetensors")
        let record = try distiller.trainStep()
        #expect(record.affinity > 0 && record.featureNorm > 0 && record.loss.isFinite)

        // The exported model through the Inference engine equals the training network's eval forward.
        let modelPath = dir.file("model")
        try resumed.exportModel(to: modelPath, version: "test", notes: [])
        let model = try ModelDirectory(path: modelPath)
        let engine = try LCOVNetEngine(model: model, threads: 2, window: try WindowShape(d: 32, h: 32, w: 32))
        let window = OperationGradientTests.noise(32 * 32 * 32, seed: 7).map { 0.5 + 0.2 * $0 }
        var logits = [Float](repeating: 0, count: 17 * 32 * 32 * 32)
        try window.withUnsafeBufferPointer { input in
            try logits.withUnsafeMutableBufferPointer { try engine.predict(window: input, into: $0) }
        }
        let ours = try resumed.network.forward(
            Tensor(planar: window, shape: [1, 1, 32, 32, 32], pool: resumed.context.pool),
            resumed.context, training: false
        ).logits[0].planar
        let e = NetworkGradientTests.relativeError(logits, ours)
        #expect(e < 1e-4, "engine vs training network logits: relative error \(e)")
    }

    /// An averaging run's checkpoint holds the moving average of the weights, the network trains
    /// on from its own weights, and a resumed run takes those training weights back.
    @Test func checkpointsHoldTheAverageOfTheWeights() throws {
        let dir = try TemporaryDirectory("lcovnet-average")
        var c = Self.configuration()
        c.weightAverageDecay = 0.5
        let run = dir.file("averaged")
        let trainer = try Trainer(configuration: c, directory: run)
        let p = trainer.network.parameters[0]
        let w0 = p.values
        _ = try trainer.trainStep()
        let w1 = p.values
        _ = try trainer.trainStep()
        let w2 = p.values
        #expect(w1 != w0 && w2 != w1)
        try trainer.saveCheckpoint()
        #expect(p.values == w2, "the checkpoint left the average in the training network")
        let saved = try #require(SafeTensors(contentsOf: "\(run)/checkpoint.safetensors").tensors[p.key]).floats()
        let expected = (0..<p.count).map { (i: Int) -> Float in
            let after1: Float = 0.5 * w0[i] + 0.5 * w1[i]
            return 0.5 * after1 + 0.5 * w2[i]
        }
        let worst = zip(saved, expected).map { abs($0 - $1) }.max() ?? 1
        #expect(worst < 1e-6, "checkpoint differs from the average by up to \(worst)")
        let resumed = try Trainer(configuration: c, directory: run)
        #expect(resumed.step == 2)
        #expect(resumed.network.parameters[0].values == w2)
    }
}
