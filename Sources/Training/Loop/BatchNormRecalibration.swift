import Foundation
import Inference

/// A trained state dict's BatchNorm statistics measured again over windows of many volumes.
/// The statistics a checkpoint carries come from the training pool of its moment (a dozen
/// volumes), and a model's output on real CT moved with them: one checkpoint scored 0.447 mean
/// Dice on the real example with 32 windows of its pool and 0.560 with 256 of the same pool.
/// Measured over windows of many scans, unaugmented (as inference sees them), the statistics no
/// longer depend on which scans the pool held when the checkpoint was written.
public enum BatchNormRecalibration {
    /// - Parameters:
    ///   - seeds: the volumes, drawn as `configuration` draws training volumes (CT synthesized on
    ///     its anatomy maps, or phantoms).
    ///   - windowsPerVolume: windows drawn from each volume (foreground-weighted as in training).
    public static func measure(
        _ state: SafeTensors, source: String, configuration: TrainingConfiguration, seeds: [UInt64],
        windowsPerVolume: Int, progress: (String) -> Void = { _ in }
    ) throws -> SafeTensors {
        let context = try TrainingContext(threads: configuration.threads, bf16: false)
        let network = TrainableLCOVNet(widths: LCOVNetArchitecture.widths(of: state), pool: context.pool)
        try network.load(state, source: source)
        var volumes: [TrainingVolume] = []
        for seed in seeds {
            volumes.append(try TrainingVolume.sample(seed: seed, configuration, classCount: network.classCount))
            progress("{\"event\":\"statistics volume\",\"seed\":\(seed)}")
        }
        var sampler = PatchSampler(volumes: volumes, window: configuration.window, seed: configuration.seed &+ 104_729)
        let (d, h, w) = (configuration.window[0], configuration.window[1], configuration.window[2])
        try network.averageBatchNormStatistics(over: windowsPerVolume * volumes.count, context) {
            Tensor(planar: sampler.next().image, shape: [1, 1, d, h, w], pool: context.pool)
        }
        var measured = network.stateDict()
        measured.metadata = state.metadata
        measured.metadata["batchnorm_statistics"] =
            "\(windowsPerVolume * volumes.count) windows of seeds \(seeds.first ?? 0)-\(seeds.last ?? 0)"
        return measured
    }
}
