import Datasets
import Foundation
import Inference
import ModelSpec
import NIfTI
import Phantom
import Testing
import TestSupport
import Volumes
@testable import Training

/// `train --dataset`: a site's labelled CT in each layout trains, its prepared cases are cached,
/// and an organ the dataset leaves unlabelled is masked, not learned as background.
@Suite(.serialized) struct DatasetTrainingTests {
    static let spleen: UInt8 = 2
    /// Generated once for every layout.
    static let phantoms = (UInt64(1)...6).map { PhantomGenerator.generate(PhantomOptions(seed: $0, matrix: 64)) }

    /// Phantoms 1…6 written as a labelled dataset in `layout`, the spleen left unlabelled (its
    /// voxels 0, the name absent from dataset.json's labels, as in a dataset that never drew it).
    static func writeDataset(_ layout: String, in dir: TemporaryDirectory) throws -> String {
        let root = dir.file(layout)
        let fm = FileManager.default
        var names: [String: String] = [:]
        for organ in OrganClass.word where organ.id != Int(spleen) { names["\(organ.id)"] = organ.id == 0 ? "background" : organ.name }
        var pairs: [(image: String, labels: String)] = []
        for seed in UInt64(1)...6 {
            let id = "case_\(seed)"
            let (image, labels): (String, String) = switch layout {
            case "nnunet": ("imagesTr/\(id)_0000.nii.gz", "labelsTr/\(id).nii.gz")
            case "word": ("imagesTr/\(id).nii.gz", "labelsTr/\(id).nii.gz")
            default: ("scans/\(id)-ct.nii.gz", "scans/\(id)-seg.nii.gz")
            }
            for folder in [image, labels] {
                try fm.createDirectory(atPath: "\(root)/\((folder as NSString).deletingLastPathComponent)", withIntermediateDirectories: true)
            }
            let phantom = phantoms[Int(seed) - 1]
            var partial = phantom.labels
            partial.voxels = partial.voxels.map { $0 == spleen ? 0 : $0 }
            try NIfTIFile.write(phantom.image, to: "\(root)/\(image)")
            try NIfTIFile.write(partial, to: "\(root)/\(labels)")
            pairs.append((image, labels))
        }
        switch layout {
        case "nnunet":
            try JSONSerialization.data(withJSONObject: ["labels": names, "file_ending": ".nii.gz"]).write(to: URL(fileURLWithPath: "\(root)/dataset.json"))
        case "msd":
            let training = pairs.map { ["image": "./\($0.image)", "label": "./\($0.labels)"] }
            try JSONSerialization.data(withJSONObject: ["labels": names, "training": training]).write(to: URL(fileURLWithPath: "\(root)/dataset.json"))
        case "csv":
            let text = "image,label\n" + pairs.map { "\($0.image),\($0.labels)" }.joined(separator: "\n") + "\n"
            try text.write(toFile: "\(root)/pairs.csv", atomically: true, encoding: .utf8)
            return "\(root)/pairs.csv"
        default:
            break
        }
        return root
    }

    /// TrainerTests' tiny configuration (8 mm voxels, 32³ windows, one thread).
    static func configuration(steps: Int) -> TrainingConfiguration {
        var c = TrainerTests.configuration()
        c.steps = steps
        c.checkpointEvery = steps
        c.phantomSeeds = [1, 2, 3, 4]
        c.learningRate = 2e-3
        return c
    }

    @Test(arguments: ["nnunet", "msd", "word", "csv"])
    func eachLayoutTrainsFromItsCachedCases(_ layout: String) throws {
        let dir = try TemporaryDirectory("lcovnet-dataset-train")
        var c = Self.configuration(steps: 3)
        c.dataset = try Self.writeDataset(layout, in: dir)
        // WORD's folders and a CSV carry no names: the spleen is unlabelled only through a label map.
        if layout == "word" || layout == "csv" { c.datasetLabelMap = LabelledDataset.knownLabelMaps["word"]!.filter { $0.key != "\(Self.spleen)" } }
        c.preparedCache = dir.file("cache")
        var events: [String] = []
        try Trainer(configuration: c, directory: dir.file("run")) { events.append($0) }.run()
        #expect(events.filter { $0.contains("\"datasetCase\"") }.count == 4, "\(events.prefix(4))")
        let cached = try FileManager.default.contentsOfDirectory(atPath: c.preparedCache!).filter { $0.hasSuffix(".json") }
        #expect(cached.count == 4)
        // The pool's volumes carry the dataset's partial labels to the loss.
        let volume = try TrainingVolume.sample(seed: 1, c, classCount: OrganClass.word.count)
        #expect(volume.unlabelled == OrganClass.word.map { $0.id == Int(Self.spleen) })
        #expect(!volume.labels.contains(Self.spleen) && volume.labels.contains(1))
        // A second run prepares nothing: it reads the cache (whose files stay as they were).
        let stamps = try cached.map { try FileManager.default.attributesOfItem(atPath: "\(c.preparedCache!)/\($0)")[.modificationDate] as? Date }
        try Trainer(configuration: c, directory: dir.file("again")).run()
        #expect(try cached.map { try FileManager.default.attributesOfItem(atPath: "\(c.preparedCache!)/\($0)")[.modificationDate] as? Date } == stamps)
    }

    /// Partial labels as sites meet them, datasets mixed: from a network that knows the spleen,
    /// 200 steps on fully labelled phantoms alternating with the dataset that leaves the spleen
    /// unlabelled keep its probability on the spleen (the marginal loss), while the same 200 steps
    /// with the dataset's spleen taught as background (a map that claims the dataset labels it)
    /// pull it down.
    @Test func anUnlabelledOrganIsMaskedNotLearnedAsBackground() throws {
        let dir = try TemporaryDirectory("lcovnet-dataset-partial")
        var base = Self.configuration(steps: 300)
        base.phantomSeeds = [1, 2, 3, 4, 5, 6]
        try Trainer(configuration: base, directory: dir.file("base")).run()
        let before = try Self.meanProbability(of: Self.spleen, run: dir.file("base"))

        var partial = Self.configuration(steps: 200)
        partial.dataset = try Self.writeDataset("nnunet", in: dir)
        partial.preparedCache = dir.file("cache")
        partial.initialWeights = dir.file("base") + "/checkpoint.safetensors"
        partial.learningRate = 1e-3
        partial.phantomSeeds = [1, 2, 3, 4, 5, 6]
        partial.phantomEvery = 2    // seeds 2, 4, 6 fully labelled phantoms; 1, 3, 5 dataset cases
        try Trainer(configuration: partial, directory: dir.file("masked")).run()
        var taught = partial
        taught.datasetLabelMap = LabelledDataset.knownLabelMaps["word"]
        try Trainer(configuration: taught, directory: dir.file("taught")).run()
        let masked = try Self.meanProbability(of: Self.spleen, run: dir.file("masked"))
        let unlearned = try Self.meanProbability(of: Self.spleen, run: dir.file("taught"))
        print("mean spleen probability on the spleen of held-out phantoms: before \(before), masked \(masked), taught as background \(unlearned)")
        #expect(before > 0.3, "the base network should find the spleen (mean probability \(before))")
        // Without the masking both runs would be the same run (same seeds, same labels): any gap is the mask's.
        #expect(masked > unlearned + 0.05, "masked \(masked) against taught as background \(unlearned)")
    }

    /// The network's mean softmax probability of `organ` over that organ's voxels in held-out
    /// phantoms 1001-1003 (prepared as in training).
    static func meanProbability(of organ: UInt8, run: String) throws -> Double {
        let c = Self.configuration(steps: 1)
        let ctx = try TrainingContext(threads: 1)
        let state = try SafeTensors(contentsOf: "\(run)/checkpoint.safetensors")
        let net = TrainableLCOVNet(widths: c.widths, pool: ctx.pool)
        try net.load(state, source: run)
        var sum = 0.0, count = 0
        for seed in UInt64(1001)...1003 {
            let volume = try TrainingVolume.sample(seed: seed, c, classCount: net.classCount)
            // Probabilities in 1/250 steps through the evaluation's tiling, which carries labels.
            let levels = try Evaluation.segment(volume, window: c.window) { tile in
                let logits = try net.forward(Tensor(planar: tile, shape: [1, 1] + c.window, pool: ctx.pool), ctx, training: false).logits[0]
                let k = logits.channels
                return (0..<tile.count).map { v in
                    let row = logits.data + v * k
                    let peak = (0..<k).map { row[$0] }.max()!
                    let total = (0..<k).reduce(Float(0)) { $0 + expf(row[$1] - peak) }
                    return UInt8((expf(row[Int(organ)] - peak) / total * 250).rounded())
                }
            }
            for (v, l) in volume.labels.enumerated() where l == organ { sum += Double(levels[v]) / 250; count += 1 }
        }
        return count > 0 ? sum / Double(count) : 0
    }
}
