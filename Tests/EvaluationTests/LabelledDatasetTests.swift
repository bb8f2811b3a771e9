import Datasets
import Foundation
import Inference
import Ingest
import Logging
import ModelSpec
import ModelTestSupport
import NIfTI
import Phantom
import PhantomDicom
import Preprocess
import TestSupport
import Testing
import Volumes

@testable import Evaluation
@testable import Segmentation

/// A site's labelled CT in each layout it may have (nnU-Net raw, MSD, WORD's folders, a CSV),
/// with its label values mapped to the model's organs by name; organs it does not label are not
/// scored (`lcovnet evaluate --dataset`).
@Suite struct LabelledDatasetTests {
    static let classes = OrganClass.word

    /// A label map written in another voxel order than its image (as another tool may write it)
    /// is put on the image's grid voxel for voxel; one elsewhere in the patient is refused.
    @Test func labelsInAnotherVoxelOrderAreTakenOntoTheImagesGrid() throws {
        let dir = try TemporaryDirectory()
        let phantom = PhantomGenerator.generate(PhantomOptions(seed: 4, matrix: 48))
        try NIfTIFile.write(phantom.image, to: dir.file("ct.nii.gz"))
        let flipped = try Reorientation(from: phantom.labels.geometry, to: "RAS").apply(phantom.labels)
        #expect(flipped.geometry.orientationCode != phantom.image.geometry.orientationCode)
        try NIfTIFile.write(flipped, to: dir.file("seg.nii.gz"))
        var shifted = phantom.labels
        shifted.geometry.origin += SIMD3(0, 0, 3 * shifted.geometry.spacing.z)
        try NIfTIFile.write(shifted, to: dir.file("shifted.nii.gz"))
        try "image,label\nct.nii.gz,seg.nii.gz\nct.nii.gz,shifted.nii.gz\n".write(
            toFile: dir.file("pairs.csv"), atomically: true, encoding: .utf8)
        let data = try LabelledDataset(path: dir.file("pairs.csv"), classes: Self.classes)
        let image = try NIfTIFile.readHounsfield(dir.file("ct.nii.gz"))
        #expect(try data.labels(of: data.cases[0], on: image.geometry).volume.voxels == phantom.labels.voxels)
        #expect(throws: PathError<LabelledDataset>.self) { try data.labels(of: data.cases[1], on: image.geometry) }
    }

    /// DICOM folders with their label maps beside them: each folder's series is the case's scan
    /// (read through the ingest), its labels taken onto that grid.
    @Test func dicomFoldersWithLabelMapsBesideThem() throws {
        let dir = try TemporaryDirectory()
        let phantom = PhantomGenerator.generate(PhantomOptions(seed: 6, matrix: 48, sliceSpacing: 5))
        _ = try DicomSeriesWriter().write(phantom.image, to: dir.file("patient_a"))
        try NIfTIFile.write(phantom.labels, to: dir.file("patient_a.nii.gz"))
        try FileManager.default.createDirectory(
            atPath: dir.file("unlabelled_series"), withIntermediateDirectories: true)
        let data = try LabelledDataset(path: dir.path, classes: Self.classes)
        #expect(data.layout == "dicom")
        #expect(data.cases.map(\.id) == ["patient_a"])
        let scan = try data.scan(of: data.cases[0])
        #expect(scan.size.count == phantom.image.size.count)
        let labels = try data.labels(of: data.cases[0], on: scan.geometry).volume
        let foreground = labels.voxels.count { $0 != 0 }
        #expect(foreground == phantom.labels.voxels.count { $0 != 0 } && foreground > 0)
    }

    /// DICOM folders with a DICOM Segmentation beside them, made by highdicom (no one here wrote
    /// it), binary and fractional: the segments are mapped to organs by their names (TotalSegmentator's
    /// labels, or for a segment labelled "Segment 2" its coded type and laterality), laid on the
    /// scan's grid voxel for voxel, and the organs the SEG has no segment for are unlabelled for
    /// this case (partial labels), not background.
    @Test(
        .enabled(
            if: ReferenceTools.highdicomPython != nil,
            "needs .cache/dicom-venv with highdicom (scripts/install-deps.sh)"),
        arguments: [false, true])
    func dicomFoldersWithASegmentationBesideThem(fractional: Bool) throws {
        let dir = try TemporaryDirectory("dataset-seg")
        let phantom = PhantomGenerator.generate(PhantomOptions(seed: 7, matrix: 48, sliceSpacing: 5))
        _ = try DicomSeriesWriter().write(phantom.image, to: dir.file("patient_b"))
        let loaded = try DicomFolder.loadSeries(in: dir.file("patient_b"))
        let source = try #require(loaded.source)
        var expected = try Reorientation(from: phantom.labels.geometry, to: loaded.volume.geometry.orientationCode)
            .apply(phantom.labels)
        #expect(expected.geometry.isApproximatelyEqual(to: loaded.volume.geometry, tolerance: 1e-3))
        let written: Set<UInt8> = [1, 2, 3, 4, 5, 15, 16]  // tools/write_seg_highdicom.py's organs
        expected.voxels = expected.voxels.map { written.contains($0) ? $0 : 0 }
        let n = expected.size
        let scratch = try TemporaryDirectory("seg-scratch")
        try ReferenceTools.highdicomSegmentation(
            of: expected.voxels, size: (n.k, n.j, n.i), series: dir.file("patient_b"),
            sourceInstances: try #require(source.sliceInstanceUIDs), rowsReversed: source.rowsReversed,
            fractional: fractional, to: dir.file("patient_b.dcm"), scratch: scratch.path)
        let data = try LabelledDataset(path: dir.path, classes: Self.classes)
        #expect(data.layout == "dicom" && data.cases.map(\.id) == ["patient_b"])
        let scan = try data.scan(of: data.cases[0])
        let labels = try data.labels(of: data.cases[0], on: scan.geometry)
        #expect(labels.volume.voxels == expected.voxels)
        let present = Set(expected.voxels.filter { $0 != 0 }.map(Int.init))
        #expect(present.isSuperset(of: [1, 2, 3, 4, 5]))
        #expect(labels.labelled == present)
        let unlabelled = labels.unlabelledClasses(classCount: Self.classes.count)
        #expect(!unlabelled[0] && !unlabelled[3] && !unlabelled[4] && unlabelled[10])
    }

    static func touch(_ path: String) throws {
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: path, contents: Data())
    }

    @Test func nnUNetRawPairsImagesWithLabelsAndMapsOrgansByName() throws {
        let dir = try TemporaryDirectory()
        try Data(
            #"{"labels": {"background": 0, "liver": 1, "kidney_left": 2, "Spleen": 3, "tumour": 4}, "file_ending": ".nii.gz"}"#
                .utf8
        )
        .write(to: URL(fileURLWithPath: dir.file("dataset.json")))
        for id in ["case_002", "case_001"] {
            try Self.touch(dir.file("imagesTr/\(id)_0000.nii.gz"))
            try Self.touch(dir.file("labelsTr/\(id).nii.gz"))
        }
        try Self.touch(dir.file("labelsTr/orphan.nii.gz"))  // no image: left out
        let data = try LabelledDataset(path: dir.path, classes: Self.classes)
        #expect(data.layout == "nnunet")
        #expect(data.cases.map(\.id) == ["case_001", "case_002"])
        #expect(data.cases[0].image == dir.file("imagesTr/case_001_0000.nii.gz"))
        #expect(data.labelMap == [1: 1, 2: 3, 3: 2])  // the tumour is no organ of the model's
    }

    @Test func msdListsItsPairsAndNamesItsLabelsTheOtherWayRound() throws {
        let dir = try TemporaryDirectory()
        try Data(
            #"{"labels": {"0": "background", "1": "spleen"}, "training": [{"image": "./imagesTr/spleen_2.nii.gz", "label": "./labelsTr/spleen_2.nii.gz"}]}"#
                .utf8
        )
        .write(to: URL(fileURLWithPath: dir.file("dataset.json")))
        let data = try LabelledDataset(path: dir.path, classes: Self.classes)
        #expect(data.layout == "msd")
        #expect(
            data.cases == [
                .init(
                    id: "spleen_2", image: dir.file("imagesTr/spleen_2.nii.gz"),
                    labels: dir.file("labelsTr/spleen_2.nii.gz"))
            ])
        #expect(data.labelMap == [1: 2])
    }

    @Test func wordFoldersAndCSVUseWORDsIdsUnlessAMapSaysOtherwise() throws {
        let dir = try TemporaryDirectory()
        for split in ["Tr", "Val"] {
            try Self.touch(dir.file("images\(split)/word_\(split).nii.gz"))
            try Self.touch(dir.file("labels\(split)/word_\(split).nii.gz"))
        }
        let word = try LabelledDataset(path: dir.path, classes: Self.classes)
        #expect(word.layout == "word" && word.cases.map(\.id) == ["word_Tr", "word_Val"])
        #expect(word.labelMap.count == 16 && word.labelMap[14] == 14)

        try Data("image,label\nimagesTr/word_Tr.nii.gz, labelsTr/word_Tr.nii.gz\n".utf8).write(
            to: URL(fileURLWithPath: dir.file("pairs.csv")))
        let csv = try LabelledDataset(
            path: dir.file("pairs.csv"), classes: Self.classes,
            labelMap: ["6": "urinary_bladder", "7": "femur_left", "9": "aorta"])
        #expect(
            csv.layout == "csv"
                && csv.cases == [
                    .init(
                        id: "word_Tr", image: dir.file("imagesTr/word_Tr.nii.gz"),
                        labels: dir.file("labelsTr/word_Tr.nii.gz"))
                ])
        #expect(csv.labelMap == [6: 14, 7: 15])

        // The public sets' own tables: both adrenal glands are WORD's adrenal; vessels are no organ.
        let amos = try LabelledDataset(
            path: dir.path, classes: Self.classes, labelMap: LabelledDataset.knownLabelMaps["amos"])
        #expect(amos.labelMap == [1: 2, 2: 4, 3: 3, 4: 6, 5: 7, 6: 1, 7: 5, 10: 8, 11: 12, 12: 12, 13: 9, 14: 14])
        for (name, table) in LabelledDataset.knownLabelMaps {
            let mapped = try LabelledDataset(path: dir.path, classes: Self.classes, labelMap: table).labelMap
            #expect(mapped.count == table.count, "\(name): every name in its table is an organ of the model's")
        }
        let wordTable = try LabelledDataset(
            path: dir.path, classes: Self.classes, labelMap: LabelledDataset.knownLabelMaps["word"])
        #expect(wordTable.labelMap == Dictionary(uniqueKeysWithValues: (1...16).map { ($0, $0) }))

        let empty = try TemporaryDirectory()
        #expect(throws: PathError<LabelledDataset>.self) {
            try LabelledDataset(path: empty.path, classes: Self.classes)
        }
    }

    /// A phantom whose dataset leaves the spleen unlabelled: the spleen is not scored (its voxels
    /// in the labels are background, yet the model's spleen costs no Dice), every other organ is
    /// scored as `LabelOverlap` and `SurfaceDistances` score `segment`'s own labels.
    @Test func anOrganTheDatasetDoesNotLabelIsNotScored() throws {
        let dir = try TemporaryDirectory()
        let model = try RandomModel.write(to: dir.file("model"), input: RandomModel.coarseRecipe, window: [32, 32, 32])
        let phantom = PhantomGenerator.generate(PhantomOptions(seed: 7, matrix: 48, sliceSpacing: 6))
        var labels = phantom.labels
        labels.voxels = labels.voxels.map { $0 == 2 ? 0 : $0 }
        try FileManager.default.createDirectory(atPath: dir.file("data/imagesTr"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir.file("data/labelsTr"), withIntermediateDirectories: true)
        try NIfTIFile.write(phantom.image, to: dir.file("data/imagesTr/p7_0000.nii.gz"))
        try NIfTIFile.write(labels, to: dir.file("data/labelsTr/p7.nii.gz"))
        let names = Self.classes.filter { $0.id > 0 && $0.id != 2 }.reduce(into: ["background": 0]) {
            $0[$1.name] = $1.id
        }
        try JSONSerialization.data(withJSONObject: ["labels": names]).write(
            to: URL(fileURLWithPath: dir.file("data/dataset.json")))

        let data = try LabelledDataset(path: dir.file("data"), classes: model.manifest.classes)
        let options = SegmentationOptions(threads: 2)
        let evaluation = try DatasetEvaluation.run(
            model: model, dataset: data, source: dir.file("data"), options: options, nsdToleranceMM: 2,
            logger: Logger(label: "test"))
        #expect(!evaluation.labelledOrgans.contains("spleen") && evaluation.labelledOrgans.count == 15)
        let scored = try #require(evaluation.cases.first)
        #expect(scored.organs["spleen"] == nil)

        let predicted = try Segmenter(model: model, options: options, logger: Logger(label: "test")).segment(
            phantom.image
        ).labels
        let overlap = LabelOverlap(prediction: predicted.voxels, reference: labels.voxels, labelCount: 17)
        for organ in model.manifest.classes where organ.id > 0 && organ.id != 2 {
            guard let dice = overlap.dice(organ.id) else {
                #expect(scored.organs[organ.name] == nil)
                continue
            }
            let score = try #require(scored.organs[organ.name])
            #expect(abs(score.dice - dice) < 1e-12, "\(organ.name)")
            let surface = try #require(
                SurfaceDistances(
                    prediction: predicted.voxels, reference: labels.voxels, size: labels.size,
                    spacing: labels.geometry.spacing, label: UInt8(organ.id)))
            #expect(score.nsd == surface.surfaceDice(toleranceMM: 2))
        }
        let inReference = scored.organs.values.filter { $0.referenceVoxels > 0 }.map(\.dice)
        #expect(abs(scored.meanDice - inReference.reduce(0, +) / Double(inReference.count)) < 1e-12)
    }
}
