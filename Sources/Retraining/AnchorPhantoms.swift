import Foundation
import Inference
import ModelSpec
import Training

/// A floor for promotion that the cache cannot give: whole synthetic phantoms of the population
/// the default model was trained on, with their true labels, segmented window by window on the
/// prepared grid by the engine at the served precision. The cached validation patches are
/// organ-centred and (for uncorrected series) labelled by the teacher, so a candidate that forgets
/// the rest of the scan can look better on them; on whole anchor phantoms it cannot.
struct AnchorPhantoms {
    let volumes: [TrainingVolume]
    let window: [Int]

    init(seeds: [UInt64], matrix: Int, spec: InputPreparation, window: [Int], threads: Int) throws {
        volumes = try seeds.map {
            try TrainingVolume.phantom(seed: $0, matrix: matrix, spec: spec, classCount: LCOVNetArchitecture.classCount, threads: threads)
        }
        self.window = window
    }

    /// Mean Dice per organ over the anchors (each organ averaged over the phantoms holding it).
    func dice(of model: ModelDirectory, precision: Precision, threads: Int) throws -> Double {
        let engine = try LCOVNetEngine(model: model, precision: precision, threads: threads,
                                       window: try WindowShape(d: window[0], h: window[1], w: window[2]))
        var score = VolumeDice(classCount: LCOVNetArchitecture.classCount)
        for volume in volumes {
            score.add(predicted: try Evaluation.segment(volume, window: window) { try PatchDice.predict(engine, image: $0) }, truth: volume.labels)
        }
        return score.mean
    }
}
