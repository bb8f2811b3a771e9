import Foundation
import NIfTI
import TestSupport
import Testing
import Volumes

@testable import Export

@Suite struct SegmentationWriterTests {
    static var hasNibabel: Bool { ReferenceTools.hasPythonModules("numpy", "nibabel") }

    @Test(.enabled(if: hasNibabel, "needs python3 with nibabel"))
    func nibabelLoadsTheLabelsWithTheScansAffine() throws {
        let dir = try TemporaryDirectory()
        let (labels, _) = ExportFixture.make()
        let paths = try SegmentationWriter.write(labels, into: dir.path)
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == [
                "segmentation.nii.gz", "segmentation.nii.zst"
            ])

        let script = """
            import sys, numpy as np, nibabel as nib
            img = nib.load(sys.argv[1])
            data = np.asanyarray(img.dataobj)
            print(data.dtype, ' '.join(str(n) for n in data.shape), int(img.header['sform_code']), int(img.header['qform_code']))
            print(' '.join(repr(float(x)) for x in img.affine.ravel()))
            data.ravel(order='F').tofile(sys.argv[2])
            """
        let lines = try ReferenceTools.python(script, [paths[1], dir.file("labels.raw")]).split(separator: "\n")
        #expect(lines[0] == "uint8 150 130 44 1 1")
        let affine = lines[1].split(separator: " ").map { Double($0)! }
        let expected = labels.geometry.affineRAS.flatMap { $0 }
        #expect(zip(affine, expected).allSatisfy { abs($0 - $1) < 1e-4 }, "nibabel \(affine), scan \(expected)")
        let raw = try Data(contentsOf: URL(fileURLWithPath: dir.file("labels.raw")))
        #expect(Array(raw) == labels.voxels)
    }

    @Test func zstAndGzHoldIdenticalLabelsAndGeometry() throws {
        let dir = try TemporaryDirectory()
        let (labels, _) = ExportFixture.make()
        try SegmentationWriter.write(labels, into: dir.path)
        let zst = try NIfTIFile.read(dir.file("segmentation.nii.zst"))
        let gz = try NIfTIFile.read(dir.file("segmentation.nii.gz"))
        #expect(zst.datatype == 2 && gz.datatype == 2)
        #expect(try zst.labelVolume().voxels == labels.voxels)
        #expect(try gz.labelVolume().voxels == labels.voxels)
        #expect(zst.geometry == gz.geometry)
        #expect(zst.geometry.isApproximatelyEqual(to: labels.geometry, tolerance: 1e-4))
    }

    @Test func aFailedRewriteKeepsTheOldSegmentation() throws {
        let dir = try TemporaryDirectory()
        let (labels, _) = ExportFixture.make()
        try SegmentationWriter.write(labels, into: dir.path)
        let before = try Data(contentsOf: URL(fileURLWithPath: dir.file("segmentation.nii.gz")))
        // nifticlib refuses a name without a NIfTI ending: the write fails after the temporary
        // name was chosen, like a full disk would.
        #expect(throws: ExportError.self) {
            try AtomicFile.write(to: dir.file("segmentation.nii.gz")) { temporary in
                try NIfTIFile.write(labels, to: temporary + ".not-nifti")
            }
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.file("segmentation.nii.gz"))) == before)
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == [
                "segmentation.nii.gz", "segmentation.nii.zst"
            ])
    }

    @Test func resultFolderIsNamedBySeriesOrFileStem() {
        #expect(ResultFolder.name(seriesUID: "1.2.840.113619.2.55", inputPath: "/data/x") == "1.2.840.113619.2.55")
        #expect(ResultFolder.name(seriesUID: nil, inputPath: "/data/case 7.nii.gz") == "case_7")
        #expect(ResultFolder.name(seriesUID: nil, inputPath: "/data/ct.NII.ZST") == "ct")
        #expect(ResultFolder.name(seriesUID: nil, inputPath: "/data/dicom/") == "dicom")
        #expect(ResultFolder.name(seriesUID: "", inputPath: "..") == "_..")
        // The rule the daemon's result folders follow too (DurableFiles.SafeFileName).
        #expect(ResultFolder.name(seriesUID: "Müller 7", inputPath: "/x") == "M_ller_7")
        #expect(ResultFolder.name(seriesUID: ".hidden", inputPath: "/x") == "_.hidden")
        #expect(ResultFolder.name(seriesUID: "a/b\u{1B}", inputPath: "/x") == "a_b_")
    }

    /// A run that fails half-way leaves an earlier result as it was; a run that succeeds replaces
    /// it whole (once: new segmentation files beside the old statistics and preview).
    @Test func aResultFolderIsPublishedWholeOrNotAtAll() throws {
        let dir = try TemporaryDirectory()
        let first = try ResultFolder.publish(outputDirectory: dir.path, name: "1.2.3") { staging in
            try AtomicFile.write(text: "old stats", to: "\(staging)/statistics.json")
            try AtomicFile.write(text: "old preview", to: "\(staging)/preview.png")
        }
        #expect(first.folder == dir.file("1.2.3"))
        #expect(throws: ExportError.self) {
            try ResultFolder.publish(outputDirectory: dir.path, name: "1.2.3") { staging in
                try AtomicFile.write(text: "new labels", to: "\(staging)/segmentation.nii.gz")
                throw ExportError(path: staging, reason: "disk full half-way")
            }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["1.2.3"])
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: dir.file("1.2.3")).sorted() == [
                "preview.png", "statistics.json"
            ])
        _ = try ResultFolder.publish(outputDirectory: dir.path, name: "1.2.3") { staging in
            try AtomicFile.write(text: "new stats", to: "\(staging)/statistics.json")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["1.2.3"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file("1.2.3")) == ["statistics.json"])
        #expect(try String(contentsOfFile: dir.file("1.2.3/statistics.json"), encoding: .utf8) == "new stats")
    }
}
