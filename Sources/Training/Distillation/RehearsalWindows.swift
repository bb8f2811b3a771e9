import Datasets
import Foundation
import ModelSpec

/// Windows of synthetic phantoms (or of a site's labelled scans) with their true labels, mixed into a retraining round's
/// fine-tuning so that the student keeps what it knew while it adapts to the cached series:
/// a round's cached patches are few and organ-centred, and fine-tuning on them alone made a good
/// student forget the rest of the scan (docs/RETRAINING.md). The phantoms are regenerated from
/// their seeds, so nothing of the training set has to be kept on the site.
public struct RehearsalWindows {
    public let volumes: [TrainingVolume]
    private var sampler: PatchSampler

    /// Prepares the phantoms of `seeds` as `spec` says (the served model's preparation).
    public init(
        seeds: [UInt64], matrix: Int = 256, spec: InputPreparation, classCount: Int, window: [Int], seed: UInt64,
        threads: Int
    ) throws {
        guard !seeds.isEmpty else { throw TrainingError("rehearsal needs at least one phantom seed") }
        volumes = try seeds.map {
            try TrainingVolume.phantom(seed: $0, matrix: matrix, spec: spec, classCount: classCount, threads: threads)
        }
        sampler = PatchSampler(volumes: volumes, window: window, seed: seed)
    }

    /// The first `count` training cases of a labelled dataset (a site's own scans, `train
    /// --dataset`'s split) instead of phantoms, prepared as `spec` says and cached in `cache`;
    /// organs the dataset leaves unlabelled are merged into background in the loss.
    public init(
        dataset path: String, labelMap: [String: String]?, count: Int, cache: String, spec: InputPreparation,
        classCount: Int,
        window: [Int], seed: UInt64, threads: Int
    ) throws {
        guard count > 0 else { throw TrainingError("rehearsal needs at least one case") }
        let cases = try DatasetCases(
            path: path, labelMap: labelMap, validationFraction: LabelledDataset.defaultValidationFraction, spec: spec,
            cache: cache,
            classes: Array(OrganClass.word.prefix(classCount)))
        volumes = try (1...UInt64(min(count, cases.cases.count))).map {
            try cases.volume(forSeed: $0, classCount: classCount, threads: threads)
        }
        sampler = PatchSampler(volumes: volumes, window: window, seed: seed)
    }

    /// The next window: two in three centred on an organ drawn uniformly, the rest anywhere.
    public mutating func next() -> DistillationSample {
        let patch = sampler.next()
        return DistillationSample(image: patch.image, labels: patch.labels, teacher: nil, unlabelled: patch.unlabelled)
    }
}
