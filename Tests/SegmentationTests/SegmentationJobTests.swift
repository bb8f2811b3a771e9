import Foundation
import Ingest
import Logging
import ModelTestSupport
import NIfTI
import Phantom
import PhantomDicom
import TestSupport
import Testing
import Volumes

@testable import Segmentation

@Suite struct SegmentationJobTests {
    @Test(
        .enabled(
            if: ReferenceTools.hasExecutable("dcm2niix") && ReferenceTools.hasPythonModules("nibabel", "numpy"),
            "needs dcm2niix and Debian's python3-nibabel"))
    func resultsOfADicomSeriesSitOnDcm2niixsGrid() throws {
        let dir = try TemporaryDirectory()
        let phantom = PhantomGenerator.generate(PhantomOptions(seed: 9, matrix: 64, sliceSpacing: 5))
        try DicomSeriesWriter().write(phantom.image, to: dir.file("dicom"))
        let logger = Logger(label: "test")
        let model = try RandomModel.write(to: dir.file("model"), input: SegmenterTests.recipe, window: [32, 32, 32])
        let segmenter = Segmenter(model: model, options: SegmentationOptions(threads: 2), logger: logger)
        let scan = try ScanInput.load(dir.file("dicom"), logger: logger)
        let outcome = try SegmentationJob.run(scan, outputDirectory: dir.file("out"), segmenter: segmenter)
        #expect(outcome.folder == dir.file("out/\(scan.seriesInstanceUID!)"))
        let names = try FileManager.default.contentsOfDirectory(atPath: outcome.folder).sorted()
        // DICOM input: the organs also as a DICOM Segmentation and an RT Structure Set (when any was found).
        let found = outcome.result.labels.voxels.contains { $0 != 0 }
        #expect(found, "the random model labelled nothing: the SEG path is not exercised")
        #expect(
            names == ["preview.png", "provenance.json"] + (found ? ["rtstruct.dcm", "segmentation.dcm"] : [])
                + ["segmentation.nii.gz", "segmentation.nii.zst", "statistics.json"])
        if ReferenceTools.highdicomPython != nil {
            let source = try #require(scan.dicomSource)
            let uids = try #require(source.sliceInstanceUIDs)
            let n = outcome.result.labels.size
            let disagreement = try ReferenceTools.segmentationDisagreement(
                "\(outcome.folder)/segmentation.dcm", labels: outcome.result.labels.voxels,
                size: (n.k, n.j, n.i), sourceInstances: uids,
                rowsReversed: source.rowsReversed, scratch: dir.path)
            #expect(disagreement == nil, "\(disagreement ?? "")")
            let contoured = try ReferenceTools.structureSetDisagreement(
                "\(outcome.folder)/rtstruct.dcm", seriesFolder: dir.file("dicom"),
                labels: outcome.result.labels.voxels, size: (n.k, n.j, n.i),
                sourceInstances: uids, rowsReversed: source.rowsReversed, scratch: dir.path)
            #expect(contoured == nil, "\(contoured ?? "")")
        }

        let converted = try ReferenceTools.run(
            "dcm2niix", ["-z", "n", "-f", "reference", "-o", dir.path, dir.file("dicom")])
        #expect(converted.status == 0, "\(converted.stderr)")
        let answer = try ReferenceTools.python(
            """
            import sys, json, nibabel as nib, numpy as np
            seg, ref = nib.load(sys.argv[1]), nib.load(sys.argv[2])
            print(json.dumps({"same_shape": seg.shape == ref.shape, "affine_error": float(np.abs(seg.affine - ref.affine).max()),
                              "dtype": str(seg.get_data_dtype()), "max_label": int(np.asanyarray(seg.dataobj).max())}))
            """, ["\(outcome.folder)/segmentation.nii.gz", dir.file("reference.nii")])
        struct Answer: Decodable {
            var same_shape: Bool
            var affine_error: Double
            var dtype: String
            var max_label: Int
        }
        let a = try JSONDecoder().decode(Answer.self, from: Data(answer.utf8))
        #expect(a.same_shape)
        #expect(a.affine_error < 1e-3)
        #expect(a.dtype == "uint8" && a.max_label <= 16)

        let zst = try NIfTIFile.read("\(outcome.folder)/segmentation.nii.zst").labelVolume()
        let gz = try NIfTIFile.read("\(outcome.folder)/segmentation.nii.gz").labelVolume()
        #expect(zst.voxels == gz.voxels && zst.voxels == outcome.result.labels.voxels)

        struct Statistics: Decodable {
            struct Organ: Decodable {
                var label: Int
                var voxel_count: Int
                var volume_ml: Double
            }
            var organs: [Organ]
        }
        let stats = try JSONDecoder().decode(
            Statistics.self, from: Data(contentsOf: URL(fileURLWithPath: "\(outcome.folder)/statistics.json")))
        let overlap = LabelOverlap(prediction: zst.voxels, reference: zst.voxels, labelCount: 17)
        for organ in stats.organs {
            #expect(organ.voxel_count == overlap.predicted[organ.label])
            #expect(
                abs(organ.volume_ml - Double(organ.voxel_count) * outcome.result.labels.geometry.voxelVolumeML) < 1e-6)
        }
    }
}
