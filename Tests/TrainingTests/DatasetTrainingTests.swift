import Datasets
import Foundation
import ModelSpec
import NIfTI
import Phantom
import TestSupport
import Testing
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
        for organ in OrganClass.word where organ.id != Int(spleen) {
            names["\(organ.id)"] = organ.id == 0 ? "background" : organ.name
        }
        var pairs: [(image: String, labels: String)] = []
        for seed in UInt64(1)...6 {
            let id = "case_\(seed)"
            let (image, labels): (String, String) =
                switch layout {
                case "nnunet": ("imagesTr/\(id)_0000.nii.gz", "labelsTr/\(id).nii.gz")
                case "word": ("imagesTr/\(id).nii.gz", "labelsTr/\(id).nii.gz")
                default: ("scans/\(id)-ct.nii.gz", "scans/\(id)-seg.nii.gz")
                }
            for folder in [image, labels] {
                try fm.createDirectory(
                    atPath: "\(root)/\((folder as NSString).deletingLastPathComponent)",
                    withIntermediateDirectories: true)
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
            try JSONSerialization.data(withJSONObject: ["labels": names, "file_ending": ".nii.gz"]).write(
                to: URL(fileURLWithPath: "\(root)/dataset.json"))
        case "msd":
            let training = pairs.map { ["image": "./\($0.image)", "label": "./\($0.labels)"] }
            try JSONSerialization.data(withJSONObject: ["labels": names, "training": training]).write(
                to: URL(fileURLWithPath: "\(root)/dataset.json"))
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
        if layout == "word" || layout == "csv" {
            c.datasetLabelMap = LabelledDataset.knownLabelMaps["word"]!.filter { $0.key != "\(Self.spleen)" }
        }
        c.preparedCache = dir.file("cache")
        var events: [String] = []
        try Trainer(configuration: c, directory: dir.file("run")) { events.append($0) }.run()
        #expect(events.filter { $0.contains("\"datasetCase\"") }.count == 4, "\(events.prefix(4))")
        let cached = try FileManager.default.contentsOfDirectory(atPath: c.preparedCache!).filter {
            $0.hasSuffix(".json")
        }
        #expect(cached.count == 4)
        // The pool's volumes carry the dataset's partial labels to the loss.
        let volume = try TrainingVolume.sample(seed: 1, c, classCount: OrganClass.word.count)
        #expect(volume.unlabelled == OrganClass.word.map { $0.id == Int(Self.spleen) })
        #expect(!volume.labels.contains(Self.spleen) && volume.labels.contains(1))
        // A second run prepares nothing: it reads the cache (whose files stay as they were).
        let stamps = try cached.map {
            try FileManager.default.attributesOfItem(atPath: "\(c.preparedCache!)/\($0)")[.modificationDate] as? Date
        }
        try Trainer(configuration: c, directory: dir.file("again")).run()
        #expect(
            try cached.map {
                try FileManager.default.attributesOfItem(atPath: "\(c.preparedCache!)/\($0)")[.modificationDate]
                    as? Date
            } == stamps)
    }

    /// Through the whole data path (the dataset's case, its partial labels, the sampler, the
    /// objective), the loss's gradient on the spleen's logit over the spleen's voxels, which the
    /// case calls background: with the spleen unlabelled it never pushes the spleen down (the
    /// marginal loss lifts background and spleen together); with a map that claims the dataset
    /// labels the spleen it pushes it down (taught as background).
    @Test func anUnlabelledOrganIsMaskedNotLearnedAsBackground() throws {
        let dir = try TemporaryDirectory("lcovnet-dataset-partial")
        var masked = Self.configuration(steps: 1)
        masked.dataset = try Self.writeDataset("nnunet", in: dir)
        masked.preparedCache = dir.file("cache")
        var taught = masked
        taught.datasetLabelMap = LabelledDataset.knownLabelMaps["word"]
        let classes = OrganClass.word.count
        let item = try DatasetCases(masked, classes: OrganClass.word).item(forSeed: 1)
        // Where the spleen really is: the same phantom, fully labelled, prepared the same way.
        let phantom = try #require(UInt64(item.id.dropFirst("case_".count)))
        let truth = try TrainingVolume.sample(seed: phantom, Self.configuration(steps: 1), classCount: classes).labels
        #expect(truth.contains(Self.spleen))

        let ctx = try TrainingContext(threads: 1)
        let net = TrainableLCOVNet(widths: masked.widths, pool: ctx.pool)
        net.initialize(seed: 7)
        var pushes: [Double] = []
        for c in [masked, taught] {
            let volume = try TrainingVolume.sample(seed: 1, c, classCount: classes)
            #expect(volume.size.count == truth.count && !volume.labels.contains(Self.spleen))
            var sampler = PatchSampler(volumes: [volume], window: c.window, seed: 1)
            #expect(sampler.next().unlabelled == volume.unlabelled)
            // The whole prepared volume as one window (8 mm voxels: it is small).
            let window = [volume.size.k, volume.size.j, volume.size.i].map { max(32, ($0 + 15) / 16 * 16) }
            let (h, w) = (window[1], window[2])
            var image = [Float](repeating: volume.minimum, count: window.reduce(1, *))
            var labels = [UInt8](repeating: 0, count: window.reduce(1, *))
            var spleenVoxels: [Int] = []
            for k in 0..<volume.size.k {
                for j in 0..<volume.size.j {
                    for i in 0..<volume.size.i {
                        let v = i + volume.size.i * (j + volume.size.j * k)
                        let n = (k * h + j) * w + i
                        image[n] = volume.image[v]
                        labels[n] = volume.labels[v]
                        if truth[v] == Self.spleen { spleenVoxels.append(n) }
                    }
                }
            }
            let out = try net.forward(
                Tensor(planar: image, shape: [1, 1] + window, pool: ctx.pool), ctx, training: false)
            let (_, gLogits, _) = Objective().evaluate(
                student: out, teacher: nil, labels: [labels], unlabelled: [volume.unlabelled],
                window: window, ctx)
            let g = try #require(gLogits[0])
            pushes.append(spleenVoxels.reduce(0.0) { $0 + Double(g.data[$1 * g.channels + Int(Self.spleen)]) })
        }
        print("gradient on the spleen's logit over its voxels: masked \(pushes[0]), taught as background \(pushes[1])")
        // Gradient descent moves a logit against its gradient: positive pushes the spleen down.
        #expect(pushes[0] <= 0, "masked: \(pushes[0])")
        #expect(pushes[1] > 0, "taught as background: \(pushes[1])")
    }

    /// A retraining round may rehearse on a site's labelled scans: the windows come from the
    /// dataset's training cases, prepared into the given cache, with its partial labels.
    @Test func rehearsalDrawsFromADataset() throws {
        let dir = try TemporaryDirectory("lcovnet-dataset-rehearsal")
        let c = Self.configuration(steps: 1)
        var rehearsal = try RehearsalWindows(
            dataset: try Self.writeDataset("msd", in: dir), labelMap: nil, count: 3, cache: dir.file("cases"),
            spec: c.input, classCount: OrganClass.word.count, window: c.window, seed: 5, threads: 1)
        #expect(rehearsal.volumes.count == 3)
        let sample = rehearsal.next()
        #expect(sample.unlabelled == OrganClass.word.map { $0.id == Int(Self.spleen) })
        #expect(sample.labels.count == c.window.reduce(1, *) && !sample.labels.contains(Self.spleen))
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: dir.file("cases")).filter { $0.hasSuffix(".json") }
                .count == 3)
    }
}
