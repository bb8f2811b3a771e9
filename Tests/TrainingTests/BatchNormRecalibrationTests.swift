import Foundation
import Inference
import TestSupport
import Testing

@testable import Training

/// Measuring a state dict's BatchNorm statistics again changes those statistics and nothing
/// else, the same way every time, and says in its metadata what it measured them on.
@Suite struct BatchNormRecalibrationTests {
    @Test func onlyTheStatisticsChangeAndTheyAreReproducible() throws {
        let dir = try TemporaryDirectory("lcovnet-bn")
        var c = TrainerTests.configuration()
        c.steps = 2
        c.checkpointEvery = 2
        c.statisticsWindows = 2
        let trainer = try Trainer(configuration: c, directory: dir.file("run"))
        try trainer.run()
        let state = try SafeTensors(contentsOf: "\(trainer.directory)/checkpoint.safetensors")
        let measured = try BatchNormRecalibration.measure(
            state, source: "run", configuration: c, seeds: [5, 6, 7], windowsPerVolume: 3)
        let again = try BatchNormRecalibration.measure(
            state, source: "run", configuration: c, seeds: [5, 6, 7], windowsPerVolume: 3)
        #expect(Set(measured.tensors.keys) == Set(state.tensors.keys))
        var statisticsChanged = 0
        for (name, tensor) in state.tensors {
            let before = try tensor.floats()
            let after = try measured.tensors[name]!.floats()
            #expect(try again.tensors[name]!.floats() == after, "\(name) differs between two measurements")
            if name.hasSuffix("running_mean") || name.hasSuffix("running_var") {
                if before != after { statisticsChanged += 1 }
            } else if !name.hasSuffix("num_batches_tracked") {
                #expect(before == after, "\(name) changed")
            }
        }
        #expect(statisticsChanged > 10, "\(statisticsChanged) statistics tensors changed")
        #expect(measured.metadata["batchnorm_statistics"] == "9 windows of seeds 5-7")
    }
}
