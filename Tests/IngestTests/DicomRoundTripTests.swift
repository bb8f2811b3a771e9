import Foundation
import Ingest
import PhantomDicom
import TestSupport
import Testing
import Volumes

/// The writer and the reader are exact inverses: every transfer syntax and every layout gives
/// back the same voxels and geometry.
@Suite struct DicomRoundTripTests {
    @Test(arguments: DicomTransferSyntax.allCases)
    func everyTransferSyntaxRoundTrips(_ syntax: DicomTransferSyntax) throws {
        let directory = try TemporaryDirectory("roundtrip")
        let volume = IngestFixtures.volume()
        try DicomSeriesWriter(DicomWriterOptions(transferSyntax: syntax)).write(volume, to: directory.path)
        let series = try DicomFolder.loadSeries(in: directory.path)
        #expect(series.volume.voxels == volume.voxels)
        #expect(series.volume.geometry.isApproximatelyEqual(to: volume.geometry, tolerance: 1e-6))
        #expect(series.sourceSliceCount == 20)
    }

    @Test func signedSixteenBitValuesOutsideTheTwelveBitRangeRoundTrip() throws {
        let directory = try TemporaryDirectory("signed")
        var volume = IngestFixtures.volume()
        volume.voxels[0] = -3000
        volume.voxels[1] = 30000
        for syntax in [DicomTransferSyntax.explicitLittleEndian, .rle, .jpeg2000Lossless] {
            var options = DicomWriterOptions(transferSyntax: syntax)
            options.signedPixels = true
            let folder = "\(directory.path)/\(syntax.rawValue)"
            try DicomSeriesWriter(options).write(volume, to: folder)
            let series = try DicomFolder.loadSeries(in: folder)
            #expect(series.volume.voxels == volume.voxels, "\(syntax)")
        }
    }

    @Test func enhancedMultiFrameRoundTrips() throws {
        let directory = try TemporaryDirectory("enhanced")
        let volume = IngestFixtures.obliqueVolume()
        var options = DicomWriterOptions(transferSyntax: .jpegLossless)
        options.enhancedMultiFrame = true
        let result = try DicomSeriesWriter(options).write(volume, to: directory.path)
        #expect(result.files.count == 1)
        let series = try DicomFolder.loadSeries(in: directory.path)
        #expect(series.volume.voxels == volume.voxels)
        #expect(series.volume.geometry.isApproximatelyEqual(to: volume.geometry, tolerance: 1e-6))
        #expect(series.notes.map(\.code) == [.oblique])
    }

    @Test func filesInSubfoldersCount() throws {
        let directory = try TemporaryDirectory("subfolders")
        let volume = IngestFixtures.volume()
        let result = try DicomSeriesWriter().write(volume, to: "\(directory.path)/a")
        for (index, file) in result.files.enumerated() where index % 2 == 1 {
            let target = "\(directory.path)/b/c/\((file as NSString).lastPathComponent)"
            try FileManager.default.createDirectory(atPath: "\(directory.path)/b/c", withIntermediateDirectories: true)
            try FileManager.default.moveItem(atPath: file, toPath: target)
        }
        let series = try DicomFolder.loadSeries(in: directory.path)
        #expect(series.volume.voxels == volume.voxels)
    }

    @Test func writerRefusesAnOrientationTheReaderCannotGiveBack() throws {
        let directory = try TemporaryDirectory("handedness")
        let volume = IngestFixtures.volume(direction: .identity)
        #expect(throws: IngestError.self) { try DicomSeriesWriter().write(volume, to: directory.path) }
    }
}
