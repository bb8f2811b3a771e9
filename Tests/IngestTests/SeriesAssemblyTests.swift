import Foundation
import Ingest
import PhantomDicom
import TestSupport
import Testing
import Volumes

/// Quirks of real exports: the reader must give back the volume that was written, and say what it did.
@Suite struct SeriesAssemblyTests {
    func write(_ volume: Volume<Int16>, _ configure: (inout DicomWriterOptions) -> Void = { _ in }) throws
        -> TemporaryDirectory
    {
        try IngestFixtures.series(volume, "assembly", configure)
    }

    @Test func orderComesFromPositionsNotNamesOrInstanceNumbers() throws {
        let volume = IngestFixtures.volume()
        let directory = try write(volume) {
            $0.shuffledFileNames = true
            $0.reversedInstanceNumbers = true
        }
        #expect(try DicomFolder.loadSeries(in: directory.path).volume == volume)
    }

    @Test func duplicatesAndLocalizersAreLeftOutWithTheirCodes() throws {
        let volume = IngestFixtures.volume()
        let directory = try write(volume) {
            $0.duplicatedSlices = [3, 7]
            $0.addLocalizer = true
        }
        let series = try DicomFolder.loadSeries(in: directory.path)
        #expect(series.volume == volume)
        let codes = series.notes.map(\.code)
        #expect(codes.filter { $0 == .duplicate }.count == 2)
        #expect(codes.filter { $0 == .localizer }.count == 1)
    }

    @Test func emptyDatasetUIDsFallBackToOtherKeys() throws {
        let volume = IngestFixtures.volume()
        let directory = try write(volume) { $0.emptyDatasetUIDs = true }
        let scan = try DicomFolder.scan(directory.path)
        #expect(scan.candidates.count == 1)
        #expect(scan.candidates[0].seriesInstanceUID.isEmpty)
        #expect(scan.candidates[0].id.hasPrefix("nouid:"))
        #expect(try DicomFolder.load(scan.candidates[0]).volume == volume)
    }

    @Test func aMissingSliceIsRejectedByDefaultAndInterpolatedOnRequest() throws {
        let volume = IngestFixtures.volume()
        let directory = try write(volume) { $0.omittedSlices = [5] }
        #expect {
            try DicomFolder.loadSeries(in: directory.path)
        } throws: { ($0 as? IngestError)?.code == .missingSlices }

        var policy = IngestPolicy()
        policy.missingSlices = .repair
        let series = try DicomFolder.loadSeries(in: directory.path, policy: policy)
        #expect(series.volume.geometry.isApproximatelyEqual(to: volume.geometry, tolerance: 1e-6))
        #expect(series.notes.map(\.code).contains(.missingSlicesInterpolated))
        let n = volume.size.sliceCount
        for k in 0..<20 where k != 5 {
            #expect(
                series.volume.voxels[(k * n)..<((k + 1) * n)] == volume.voxels[(k * n)..<((k + 1) * n)], "slice \(k)")
        }
        // The filled slice is the mean of its neighbours, rounded half up.
        for v in stride(from: 0, to: n, by: 97) {
            let mean = (Double(volume.voxels[4 * n + v]) + Double(volume.voxels[6 * n + v])) / 2
            #expect(series.volume.voxels[5 * n + v] == Int16((mean + 0.5).rounded(.down)))
        }
    }

    @Test func nonUniformSpacingIsRejectedByDefault() throws {
        // Three slices 2.5 mm apart, then 4 mm: neither uniform nor a whole-slice gap.
        var volume = IngestFixtures.volume(size: Extent3(16, 16, 4))
        let first = try write(volume)
        volume.geometry.origin.z += 1.5 + 2.5 * 3
        var options = DicomWriterOptions()
        options.omittedSlices = [0, 1, 2]
        let files = try DicomFolder.scan(first.path).candidates[0]
        try DicomSeriesWriter(
            {
                var o = options
                o.seriesInstanceUID = files.seriesInstanceUID
                o.seriesNumber = 2
                return o
            }()
        )
        .write(volume, to: first.path)
        #expect {
            try DicomFolder.loadSeries(in: first.path)
        } throws: { ($0 as? IngestError)?.code == .nonUniformSpacing }
        var policy = IngestPolicy()
        policy.nonUniformSpacing = .repair
        let series = try DicomFolder.loadSeries(in: first.path, policy: policy)
        #expect(series.notes.map(\.code).contains(.nonUniformSpacingResampled))
        #expect(series.sourceSliceCount == 5)
    }

    @Test func theSeriesWithMostSlicesIsPreferredAndEveryOneIsListed() throws {
        let directory = try TemporaryDirectory("two-series")
        let big = IngestFixtures.volume()
        let small = IngestFixtures.volume(size: Extent3(64, 48, 10), spacing: [0.8, 0.7, 5])
        var a = DicomWriterOptions()
        var b = DicomWriterOptions(transferSyntax: .rle)
        a.seriesNumber = 2
        b.seriesNumber = 3
        let bigUID = try DicomSeriesWriter(a).write(big, to: directory.path).seriesInstanceUID
        let smallUID = try DicomSeriesWriter(b).write(small, to: directory.path).seriesInstanceUID
        let scan = try DicomFolder.scan(directory.path)
        #expect(scan.candidates.map(\.seriesInstanceUID) == [bigUID, smallUID])
        #expect(try DicomFolder.load(try scan.select()).volume == big)
        #expect(try DicomFolder.load(try scan.select(id: smallUID)).volume == small)
        #expect { try scan.select(id: "1.2.3.4") } throws: { ($0 as? IngestError)?.code == .seriesNotFound }
    }

    @Test func tiesInSliceCountGoToTheThinnestSpacing() throws {
        let directory = try TemporaryDirectory("ties")
        let thick = IngestFixtures.volume(size: Extent3(16, 16, 6), spacing: [1, 1, 5])
        let thin = IngestFixtures.volume(size: Extent3(16, 16, 6), spacing: [1, 1, 1])
        var a = DicomWriterOptions()
        var b = DicomWriterOptions()
        a.seriesNumber = 1
        b.seriesNumber = 2
        try DicomSeriesWriter(a).write(thick, to: directory.path)
        let thinUID = try DicomSeriesWriter(b).write(thin, to: directory.path).seriesInstanceUID
        #expect(try DicomFolder.scan(directory.path).preferred?.seriesInstanceUID == thinUID)
    }

    /// A tilt whose shear is exactly one row per slice: the corrected volume must put every
    /// written voxel at its true patient position, with no interpolation at all.
    @Test func gantryTiltCorrectionPutsEveryVoxelAtItsPatientPosition() throws {
        let volume = IngestFixtures.volume(size: Extent3(32, 24, 8))
        let tilt = asin(0.7 / 2.5) * 180 / .pi  // row spacing / slice step: one row per slice
        let directory = try write(volume) { $0.gantryTiltDegrees = tilt }
        let series = try DicomFolder.loadSeries(in: directory.path)
        #expect(series.notes.map(\.code).contains(.gantryTiltResampled))
        let out = series.volume
        #expect(out.size == Extent3(32, 24 + 7, 8))
        let g = volume.geometry
        let a = tilt * .pi / 180
        let row = g.direction[0]
        let column = cos(a) * (-g.direction[1]) - sin(a) * g.direction[2]
        var checked = 0
        for k in 0..<8 {
            for j in stride(from: 0, to: 24, by: 5) {
                for i in stride(from: 0, to: 32, by: 3) {
                    // Where the written file puts voxel (i, j, k): its slice position plus row and column.
                    let slicePosition = g.point(atIndex: SIMD3(0, 23, Double(k)))
                    let p = slicePosition + Double(i) * g.spacing.x * row + Double(23 - j) * g.spacing.y * column
                    let index = out.geometry.index(atPoint: p)
                    let rounded = index.rounded(.toNearestOrAwayFromZero)
                    #expect(
                        (index - rounded).max() < 1e-3 && (rounded - index).max() < 1e-3,
                        "voxel \(i),\(j),\(k) lands between grid points: \(index)")
                    #expect(
                        out[Int(rounded.x), Int(rounded.y), Int(rounded.z)] == volume[i, j, k],
                        "voxel \(i),\(j),\(k) at \(rounded)")
                    checked += 1
                }
            }
        }
        #expect(checked > 100)
    }

    @Test func gantryTiltCanBeRejected() throws {
        let directory = try write(IngestFixtures.volume()) { $0.gantryTiltDegrees = 12 }
        var policy = IngestPolicy()
        policy.gantryTilt = .reject
        #expect {
            try DicomFolder.loadSeries(in: directory.path, policy: policy)
        } throws: { ($0 as? IngestError)?.code == .gantryTilt }
    }
}
