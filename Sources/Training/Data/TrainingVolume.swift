import Foundation
import ModelSpec
import Phantom
import Preprocess
import Synthesis
import Volumes

/// One training scan on the model's prepared grid: normalised intensities and labels, both as
/// D×H×W arrays (D = prepared k, H = j, W = i; i fastest), exactly what inference feeds the network.
public struct TrainingVolume: Sendable {
    public var size: Extent3
    public var image: [Float]
    public var labels: [UInt8]
    /// Voxel indices of each class (index = class id), for sampling patches around organs.
    public var voxelsOfClass: [[Int32]]
    /// The lowest intensity (air after clip-scale): what windows past the edge are padded with.
    public var minimum: Float
    /// Per class, whether this volume's source leaves it unlabelled (a dataset's partial labels:
    /// the loss merges it into background); nil: every class is labelled.
    public var unlabelled: [Bool]?
    /// A fixed case (a dataset's) whose patches get CaseAugmentation; nil for volumes that are
    /// a fresh draw each time. The value is the prepared axis between the patient's sides (0 =
    /// i), or -1 when the voxel order does not say (no mirroring).
    public var caseLeftRightAxis: Int?

    /// Prepares a scan as `spec` says (Preprocess, as inference does) and carries its labels
    /// onto the prepared grid by nearest neighbour.
    public init(image scan: Volume<Int16>, labels: Volume<UInt8>, spec: InputPreparation, classCount: Int, threads: Int)
        throws
    {
        let prepared = try Preparation.prepare(scan, as: spec, threads: threads)
        let size = prepared.volume.size
        let out = PreparedLabels.carry(labels, onto: prepared.record)
        self.init(size: size, image: prepared.volume.voxels, labels: out, classCount: classCount)
    }

    /// A volume already on the prepared grid (D×H×W arrays, i fastest).
    public init(size: Extent3, image: [Float], labels: [UInt8], classCount: Int, unlabelled: [Bool]? = nil) {
        self.size = size
        self.unlabelled = unlabelled
        self.image = image
        minimum = image.min() ?? 0
        self.labels = labels
        var lists = [[Int32]](repeating: [], count: classCount)
        for (v, l) in labels.enumerated() where Int(l) < classCount { lists[Int(l)].append(Int32(v)) }
        voxelsOfClass = lists
    }

    /// The training scan a seed stands for under `configuration` (TrainingConfiguration.source):
    /// a dataset's case, a CT synthesized on a real label map, or a phantom.
    public static func sample(seed: UInt64, _ configuration: TrainingConfiguration, classCount: Int) throws
        -> TrainingVolume
    {
        switch configuration.source(ofSeed: seed) {
        case .phantom:
            return try phantom(
                seed: seed, matrix: configuration.phantomMatrix, spec: configuration.input, classCount: classCount,
                threads: configuration.threads)
        case .synthesized:
            return try synthesized(
                seed: seed, maps: AnatomyMaps(folder: configuration.anatomies!), spec: configuration.input,
                classCount: classCount, threads: configuration.threads,
                randomContrastShare: configuration.randomContrastShare)
        case .dataset:
            return try DatasetCases(configuration, classes: Array(OrganClass.word.prefix(classCount)))
                .volume(forSeed: seed, classCount: classCount, threads: configuration.threads)
        }
    }

    /// A CT synthesized on one of `maps` (which one the seed says), prepared.
    public static func synthesized(
        seed: UInt64, maps: AnatomyMaps, spec: InputPreparation, classCount: Int, threads: Int,
        randomContrastShare: Double? = nil
    ) throws -> TrainingVolume {
        let name = maps.name(forSeed: seed)
        let scan = try CTSynthesizer.synthesize(
            try maps.load(name), anatomy: name, SynthesisOptions(seed: seed, randomContrastShare: randomContrastShare),
            threads: threads)
        return try TrainingVolume(
            image: scan.image, labels: scan.labels, spec: spec, classCount: classCount, threads: threads)
    }

    /// A phantom, prepared.
    public static func phantom(seed: UInt64, matrix: Int, spec: InputPreparation, classCount: Int, threads: Int) throws
        -> TrainingVolume
    {
        let p = PhantomGenerator.generate(PhantomOptions(seed: seed, matrix: matrix))
        return try TrainingVolume(
            image: p.image, labels: p.labels, spec: spec, classCount: classCount, threads: threads)
    }
}
