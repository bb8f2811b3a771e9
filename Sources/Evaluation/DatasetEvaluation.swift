import Datasets
import Foundation
import Inference
import Logging
import NIfTI
import Segmentation
import Volumes

/// How well a model segments a site's labelled CT (`lcovnet evaluate --dataset`): each case
/// through `segment`'s own path, scored per organ against its labels on the scan's grid with
/// Dice, the 95 % Hausdorff distance and the normalized surface Dice (Volumes.SurfaceDistances),
/// over the organs the dataset labels only.
public struct DatasetEvaluation: Codable, Sendable {
    public struct OrganScore: Codable, Sendable {
        public var dice: Double
        /// mm; nil when one side lacks the organ (infinite).
        public var hd95: Double?
        public var nsd: Double
        public var referenceVoxels: Int
        public var predictedVoxels: Int
    }

    public struct Case: Codable, Sendable {
        public var id: String
        /// By organ name, for the organs in the reference or the prediction that the dataset labels.
        public var organs: [String: OrganScore]
        public var meanDice: Double
        public var seconds: Double
    }

    public var model: String
    public var precision: String
    public var dataset: String
    public var layout: String
    public var nsdToleranceMM: Double
    /// The organs some case labels (the rest were not scored; each case is scored on its own).
    public var labelledOrgans: [String]
    public var cases: [Case]
    /// Means over the cases that hold each organ in their reference.
    public var dicePerOrgan: [String: Double]
    public var hd95PerOrgan: [String: Double]
    public var nsdPerOrgan: [String: Double]
    public var meanDice: Double

    public static func run(
        model: ModelDirectory, dataset: LabelledDataset, source: String, options: SegmentationOptions,
        nsdToleranceMM: Double,
        logger: Logger, progress: (String) -> Void = { _ in }
    ) throws -> DatasetEvaluation {
        let segmenter = Segmenter(model: model, options: options, logger: logger)
        let classes = model.manifest.classes
        var labelledAnywhere = Set<Int>()
        var cases: [Case] = []
        for item in dataset.cases {
            let start = Date()
            let scan = try dataset.scan(of: item)
            let caseLabels = try dataset.labels(of: item, on: scan.geometry)
            let reference = caseLabels.volume
            let labelled = caseLabels.labelled
            labelledAnywhere.formUnion(labelled)
            let predicted = try segmenter.segment(scan).labels
            var organs: [String: OrganScore] = [:]
            let overlap = LabelOverlap(
                prediction: predicted.voxels, reference: reference.voxels, labelCount: classes.count)
            for organ in classes where labelled.contains(organ.id) {
                guard let dice = overlap.dice(organ.id),
                    let surface = SurfaceDistances(
                        prediction: predicted.voxels, reference: reference.voxels, size: scan.size,
                        spacing: scan.geometry.spacing, label: UInt8(organ.id))
                else { continue }
                organs[organ.name] = OrganScore(
                    dice: dice, hd95: surface.hausdorff95.isFinite ? surface.hausdorff95 : nil,
                    nsd: surface.surfaceDice(toleranceMM: nsdToleranceMM),
                    referenceVoxels: overlap.reference[organ.id], predictedVoxels: overlap.predicted[organ.id])
            }
            let inReference = classes.filter { labelled.contains($0.id) && overlap.reference[$0.id] > 0 }.compactMap {
                organs[$0.name]?.dice
            }
            let mean = inReference.isEmpty ? 0 : inReference.reduce(0, +) / Double(inReference.count)
            cases.append(Case(id: item.id, organs: organs, meanDice: mean, seconds: Date().timeIntervalSince(start)))
            progress(
                String(
                    format: "%@: mean Dice %.3f over %d organs (%.1f s)", item.id, mean, inReference.count,
                    cases.last!.seconds))
        }
        // An organ's means run over the cases whose reference holds it.
        func meanOver(_ organ: String, _ value: (OrganScore) -> Double?) -> Double? {
            let values = cases.compactMap { c in c.organs[organ].flatMap { $0.referenceVoxels > 0 ? value($0) : nil } }
            return values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
        }
        let names = classes.filter { labelledAnywhere.contains($0.id) }.map(\.name)
        return DatasetEvaluation(
            model: model.path, precision: segmenter.precision.rawValue, dataset: source, layout: dataset.layout,
            nsdToleranceMM: nsdToleranceMM,
            labelledOrgans: names, cases: cases,
            dicePerOrgan: names.reduce(into: [:]) { $0[$1] = meanOver($1) { $0.dice } },
            hd95PerOrgan: names.reduce(into: [:]) { $0[$1] = meanOver($1) { $0.hd95 } },
            nsdPerOrgan: names.reduce(into: [:]) { $0[$1] = meanOver($1) { $0.nsd } },
            meanDice: cases.isEmpty ? 0 : cases.map(\.meanDice).reduce(0, +) / Double(cases.count))
    }
}
