import Foundation
import Ingest
import ModelSpec
import TestSupport
import Testing
import Volumes

/// The organ label map written back as a DICOM Segmentation, read by highdicom (a reference no
/// one here wrote): masks equal to the labels voxel for voxel, codes equal to pydicom's.
@Suite struct DicomSegmentationTests {
    /// Blocks of four organs, the kidneys and femoral heads among them (laterality), on some
    /// slices only (empty frames are left out, and must read back as background).
    static func labels(on geometry: Geometry) -> Volume<UInt8> {
        var labels = Volume<UInt8>(geometry: geometry, repeating: 0)
        let n = geometry.size
        for k in 2..<(n.k - 3) {
            for j in 0..<n.j {
                for i in 0..<n.i {
                    let organ: UInt8 = i < n.i / 3 ? 3 : i < 2 * n.i / 3 ? (j < n.j / 2 ? 1 : 16) : (k % 2 == 0 ? 4 : 0)
                    labels[i, j, k] = organ
                }
            }
        }
        return labels
    }

    @Test(
        .enabled(
            if: ReferenceTools.highdicomPython != nil,
            "needs .cache/dicom-venv with highdicom (scripts/install-deps.sh)"))
    func highdicomReadsTheOrgansBack() throws {
        let series = try IngestFixtures.series(IngestFixtures.volume(size: Extent3(40, 32, 12)), "seg-source")
        let loaded = try DicomFolder.loadSeries(in: series.path)
        let source = try #require(loaded.source)
        let uids = try #require(source.sliceInstanceUIDs)
        #expect(uids.count == 12)
        let labels = Self.labels(on: loaded.volume.geometry)
        let dir = try TemporaryDirectory("seg")
        try DicomSegmentationWriter.write(
            labels, source: source, classes: OrganClass.word, seriesDescription: "lcovnet organs",
            seriesNumber: 901, softwareVersion: "test", to: dir.file("segmentation.dcm"))
        let n = labels.size
        let disagreement = try ReferenceTools.segmentationDisagreement(
            dir.file("segmentation.dcm"), labels: labels.voxels, size: (n.k, n.j, n.i),
            sourceInstances: uids, rowsReversed: source.rowsReversed, scratch: dir.path)
        #expect(disagreement == nil, "\(disagreement ?? "")")
        // A person looking at it: LCOVNET_KEEP_SEG=/some/folder keeps a copy.
        if let keep = ProcessInfo.processInfo.environment["LCOVNET_KEEP_SEG"] {
            try? FileManager.default.copyItem(atPath: dir.file("segmentation.dcm"), toPath: "\(keep)/segmentation.dcm")
        }
        // dicom3tools' validator: no error against the Segmentation IOD.
        let verified = try ReferenceTools.run("/usr/bin/dciodvfy", [dir.file("segmentation.dcm")])
        let errors = (verified.stdout + verified.stderr).split(separator: "\n").filter { $0.hasPrefix("Error") }
        #expect(errors.isEmpty, "\(errors.joined(separator: "\n"))")
    }

    /// Ingest reverses the rows of images whose columns run towards the patient's back (dcm2niix's
    /// layout): the source says so, and the Segmentation's frames are written in the images' own
    /// layout (what highdicomReadsTheOrgansBack reads pixel for pixel).
    @Test func reversedRowsAreKnown() throws {
        let series = try IngestFixtures.series(IngestFixtures.volume(size: Extent3(16, 12, 4)), "seg-flipped")
        let loaded = try DicomFolder.loadSeries(in: series.path)
        #expect(loaded.source?.rowsReversed == true && loaded.source?.sliceInstanceUIDs?.count == 4)
    }

    @Test func anEmptyLabelMapIsRefusedWithAReason() throws {
        let series = try IngestFixtures.series(IngestFixtures.volume(size: Extent3(16, 16, 4)), "seg-empty")
        let loaded = try DicomFolder.loadSeries(in: series.path)
        let dir = try TemporaryDirectory("seg-empty-out")
        let empty = Volume<UInt8>(geometry: loaded.volume.geometry, repeating: 0)
        #expect(throws: DicomWriteError.self) {
            try DicomSegmentationWriter.write(
                empty, source: loaded.source!, classes: OrganClass.word, seriesDescription: "x",
                seriesNumber: 1, softwareVersion: "test", to: dir.file("s.dcm"))
        }
    }

    /// The same organs as an RT Structure Set: rt-utils (a reference no one here wrote) fills its
    /// contours back into masks with Dice ≥ 0.99 per organ (1.0 today); dciodvfy finds no error.
    @Test(
        .enabled(
            if: ReferenceTools.highdicomPython != nil, "needs .cache/dicom-venv with rt-utils (scripts/install-deps.sh)"
        ))
    func rtUtilsReadsTheContoursBack() throws {
        // Square pixels on a square image: rt-utils 1.2.7 swaps PixelSpacing's two values and the
        // mask's axes otherwise (CT is square in both; the writer is not).
        let series = try IngestFixtures.series(
            IngestFixtures.volume(size: Extent3(36, 36, 12), spacing: [0.8, 0.8, 2.5]), "rt-source")
        let loaded = try DicomFolder.loadSeries(in: series.path)
        let source = try #require(loaded.source)
        var labels = Self.labels(on: loaded.volume.geometry)
        // A hole (the kidney's sinus) and an island, on every labelled slice.
        for k in 2..<9 {
            labels[6, 10, k] = 0
            labels[30, 20, k] = 2
        }
        let dir = try TemporaryDirectory("rt")
        try DicomStructureSetWriter.write(
            labels, source: source, classes: OrganClass.word, seriesNumber: 9902, softwareVersion: "test",
            to: dir.file("rtstruct.dcm"))
        if let keep = ProcessInfo.processInfo.environment["LCOVNET_KEEP_SEG"] {
            try? FileManager.default.copyItem(atPath: dir.file("rtstruct.dcm"), toPath: "\(keep)/rtstruct.dcm")
            try? FileManager.default.copyItem(atPath: series.path, toPath: "\(keep)/series")
        }
        let n = labels.size
        let disagreement = try ReferenceTools.structureSetDisagreement(
            dir.file("rtstruct.dcm"), seriesFolder: series.path, labels: labels.voxels,
            size: (n.k, n.j, n.i), sourceInstances: try #require(source.sliceInstanceUIDs),
            rowsReversed: source.rowsReversed, scratch: dir.path)
        #expect(disagreement == nil, "\(disagreement ?? "")")
        let verified = try ReferenceTools.run("/usr/bin/dciodvfy", [dir.file("rtstruct.dcm")])
        let errors = (verified.stdout + verified.stderr).split(separator: "\n").filter { $0.hasPrefix("Error") }
        #expect(errors.isEmpty, "\(errors.joined(separator: "\n"))")
    }
}
