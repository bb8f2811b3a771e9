import Foundation
import Inference
import Logging
import Phantom
import Segmentation
import Training
import Volumes

/// A floor for promotion that the cache cannot give: whole synthetic phantoms of the population
/// the default model was trained on, segmented the way the daemon serves a scan (the model's own
/// window and overlap, at the served precision, labels mapped back to the scan's grid) and scored
/// against their truth. The cached validation patches are organ-centred and (for uncorrected
/// series) labelled by the teacher, so a candidate that forgets the rest of the scan can look
/// better on them; on whole anchor phantoms it cannot. (A first version tiled the prepared grid
/// with the round's small patch window: a candidate fine-tuned on that window gained 8 points
/// there that the served path did not see.)
struct AnchorPhantoms {
    let phantoms: [Phantom]

    init(seeds: [UInt64], matrix: Int) {
        phantoms = seeds.map { PhantomGenerator.generate(PhantomOptions(seed: $0, matrix: matrix)) }
    }

    /// Mean Dice per organ over the anchors (each organ averaged over the phantoms holding it).
    func dice(of model: ModelDirectory, precision: Precision, threads: Int, logger: Logger) throws -> Double {
        // Twice the default budget: fp32 gets the model's full window too, so that the old and the
        // new model are compared on their weights, not on a tiling the budget shrank.
        let segmenter = Segmenter(
            model: model, options: SegmentationOptions(precision: precision, threads: threads, memoryBudgetMiB: 1024),
            logger: logger)
        var score = VolumeDice(classCount: LCOVNetArchitecture.classCount)
        for phantom in phantoms {
            score.add(predicted: try segmenter.segment(phantom.image).labels.voxels, truth: phantom.labels.voxels)
        }
        return score.mean
    }
}
