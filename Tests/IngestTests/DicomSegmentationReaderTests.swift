import Foundation
import Ingest
import ModelSpec
import TestSupport
import Testing
import Volumes

/// A DICOM Segmentation read back onto its scan's grid (a site's contours as labels): the writer's
/// organs voxel for voxel (the writer itself is checked against highdicom), and a clear refusal,
/// never a crash or a header-sized allocation, for files that are not a SEG of this scan.
@Suite struct DicomSegmentationReaderTests {
    static func organ(_ segment: DicomSegmentationReader.Segment) -> UInt8? {
        OrganClass.word.first { $0.id > 0 && $0.name == segment.label }.map { UInt8($0.id) }
    }

    /// A SEG of `labels` written on `series`' grid, with the loaded series (the folders live as
    /// long as `dirs`).
    static func segmentation(_ size: Extent3, _ label: String) throws -> (
        loaded: LoadedSeries, labels: Volume<UInt8>, file: String, dirs: [TemporaryDirectory]
    ) {
        let series = try IngestFixtures.series(IngestFixtures.volume(size: size), label)
        let loaded = try DicomFolder.loadSeries(in: series.path)
        let labels = DicomSegmentationTests.labels(on: loaded.volume.geometry)
        let dir = try TemporaryDirectory("\(label)-out")
        try DicomSegmentationWriter.write(
            labels, source: try #require(loaded.source), classes: OrganClass.word, seriesDescription: "organs",
            seriesNumber: 901, softwareVersion: "test", to: dir.file("seg.dcm"))
        return (loaded, labels, dir.file("seg.dcm"), [series, dir])
    }

    @Test func theOrgansReadBackVoxelForVoxel() throws {
        let (loaded, labels, file, dirs) = try Self.segmentation(Extent3(40, 32, 12), "segread")
        let read = try DicomSegmentationReader.read(file, onto: loaded.volume.geometry, value: Self.organ)
        #expect(read.labels.voxels == labels.voxels)
        #expect(read.labels.voxels.count { $0 != 0 } > 1000)
        #expect(read.segments.map(\.label) == ["liver", "left kidney", "right kidney", "right head of femur"])
        #expect(
            read.segments.first { $0.label == "left kidney" }.map { [$0.typeMeaning, $0.modifierMeaning] } == [
                "Kidney", "Left"
            ])
        // Segments the caller gives no value are left out.
        let liverOnly = try DicomSegmentationReader.read(file, onto: loaded.volume.geometry) {
            $0.label == "liver" ? 1 : nil
        }
        #expect(liverOnly.labels.voxels == labels.voxels.map { $0 == 1 ? 1 : 0 })
        withExtendedLifetime(dirs) {}
    }

    @Test func aSegmentationOfAnotherGridIsRefused() throws {
        let (loaded, _, file, dirs) = try Self.segmentation(Extent3(24, 20, 8), "segread-grid")
        var shifted = loaded.volume.geometry
        shifted.origin.x += 0.5 * shifted.spacing.x
        #expect(throws: PathError<DicomSegmentationReader>.self) {
            try DicomSegmentationReader.read(file, onto: shifted, value: Self.organ)
        }
        var short = loaded.volume.geometry
        short.size.k -= 4
        let error = #expect(throws: PathError<DicomSegmentationReader>.self) {
            try DicomSegmentationReader.read(file, onto: short, value: Self.organ)
        }
        #expect(error?.reason.contains("outside the image") == true)
        withExtendedLifetime(dirs) {}
    }

    @Test func filesThatAreNoSegmentationOfThisScanAreRefusedWithAReason() throws {
        let (loaded, _, file, dirs) = try Self.segmentation(Extent3(24, 20, 8), "segread-hostile")
        let dir = dirs[1]
        let geometry = loaded.volume.geometry
        // A CT image is no segmentation.
        let imagePath = try #require(loaded.source).file
        let notSeg = #expect(throws: PathError<DicomSegmentationReader>.self) {
            try DicomSegmentationReader.read(imagePath, onto: geometry, value: Self.organ)
        }
        #expect(notSeg?.reason.hasPrefix("not a DICOM Segmentation") == true)
        // A header promising more frames than the pixel data holds: refused before dcmseg allocates.
        try FileManager.default.copyItem(atPath: file, toPath: dir.file("frames.dcm"))
        let modified = try ReferenceTools.run(
            "/usr/bin/dcmodify", ["-nb", "-m", "(0028,0008)=60000", dir.file("frames.dcm")])
        #expect(modified.status == 0, "\(modified.stderr)")
        let frames = #expect(throws: PathError<DicomSegmentationReader>.self) {
            try DicomSegmentationReader.read(dir.file("frames.dcm"), onto: geometry, value: Self.organ)
        }
        #expect(frames?.reason.contains("60000 frames") == true)
        // Truncated: the bytes run out inside the pixel data.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        try bytes.prefix(bytes.count * 2 / 3).write(to: URL(fileURLWithPath: dir.file("truncated.dcm")))
        #expect(throws: (any Error).self) {
            try DicomSegmentationReader.read(dir.file("truncated.dcm"), onto: geometry, value: Self.organ)
        }
        // Random bytes.
        try Data((0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 7919) }).write(
            to: URL(fileURLWithPath: dir.file("noise.dcm")))
        #expect(throws: (any Error).self) {
            try DicomSegmentationReader.read(dir.file("noise.dcm"), onto: geometry, value: Self.organ)
        }
        withExtendedLifetime(dirs) {}
    }
}
