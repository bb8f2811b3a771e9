import Foundation
import Logging
import NIfTI
import Segmentation
import TestSupport
import Testing
import Volumes

/// A NIfTI scan whose header fails a plausibility limit reaches `segment` and the daemon with
/// the same reason code as a DICOM series would (an ingest code, "[implausible-geometry]").
@Suite struct ScanInputPlausibilityTests {
    @Test func anImplausibleNIfTIScanFailsWithItsIngestCode() throws {
        let dir = try TemporaryDirectory()
        let geometry = Geometry(size: Extent3(8, 8, 4), spacing: [0.8, 0.8, 2.5])
        try NIfTIFile.write(Volume<Int16>(geometry: geometry, repeating: -1000), to: dir.file("scan.nii"))
        // The honest file loads.
        #expect(try ScanInput.load(dir.file("scan.nii"), logger: Logger(label: "test")).volume.size == geometry.size)
        // srow_x[0] (offset 280) set to 1e30: a voxel a light-day wide.
        var data = try Data(contentsOf: URL(fileURLWithPath: dir.file("scan.nii")))
        withUnsafeBytes(of: Float(1e30)) { data.replaceSubrange(280..<284, with: $0) }
        try data.write(to: URL(fileURLWithPath: dir.file("scan.nii")))
        #expect {
            try ScanInput.load(dir.file("scan.nii"), logger: Logger(label: "test"))
        } throws: { error in
            "\(error)".hasPrefix(dir.file("scan.nii")) && "\(error)".hasSuffix("[implausible-geometry]")
        }
    }
}
