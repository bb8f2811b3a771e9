import Foundation
import ModelSpec
import Testing
import Volumes

@testable import Preprocess

@Suite struct BodyCropTests {
    /// A body ellipse (±100 mm in x, ±80 mm in y) over z −60…60 mm, and a patient table that
    /// air separates from it, behind the patient (y 95…105 mm).
    static func scanWithTable() -> Volume<Int16> {
        let g = centredGeometry(size: Extent3(180, 160, 60), spacing: [1.5, 1.5, 2.5], direction: .identity)
        var v = Volume<Int16>(geometry: g, repeating: -1000)
        for k in 0..<g.size.k {
            for j in 0..<g.size.j {
                for i in 0..<g.size.i {
                    let p = g.point(atIndex: [Double(i), Double(j), Double(k)])
                    let d = SIMD2(p.x / 100, p.y / 80)
                    if (d * d).sum() <= 1 && abs(p.z) <= 60 { v[i, j, k] = 30 }
                    if p.y >= 95 && p.y <= 105 { v[i, j, k] = 300 }
                }
            }
        }
        return v
    }

    @Test func boxHoldsTheBodyWithItsMarginAndLeavesTheTable() throws {
        let scan = Self.scanWithTable()
        let g = scan.geometry
        let box = BodyCrop.box(of: scan, InputPreparation.BodyCrop(thresholdHU: -500, marginMM: 10), threads: 2)
        // Box faces in mm from the centre, per axis.
        func face(_ axis: Int, _ index: Int) -> Double {
            (Double(index) - Double(g.size[axis] - 1) / 2) * g.spacing[axis]
        }
        let extents = [(100.0, 0), (80.0, 1), (60.0, 2)]
        for (half, a) in extents {
            let lo = -face(a, box.lower[a])
            let hi = face(a, box.upper[a] - 1)
            // At least the body plus the margin (where the scan reaches), at most one block more.
            let wanted = min(half + 10, Double(g.size[a] - 1) / 2 * g.spacing[a])
            #expect(lo >= wanted - g.spacing[a] && hi >= wanted - g.spacing[a], "axis \(a): box \(box)")
            let most = half + 10 + 2 * BodyCrop.blockMM + g.spacing[a]
            #expect(lo <= most && hi <= most, "axis \(a): box \(box)")
        }
        // The table (from y = 95 mm) is outside.
        #expect(face(1, box.upper[1] - 1) < 95)
    }

    @Test func nothingAboveTheThresholdKeepsTheWholeScan() {
        let g = Geometry(size: Extent3(10, 10, 4))
        let box = BodyCrop.box(
            of: Volume(geometry: g, repeating: -1000), InputPreparation.BodyCrop(thresholdHU: -500, marginMM: 10))
        #expect(box == CropBox(whole: g.size))
    }

    @Test func thePreparedGridCoversTheBoxExactly() throws {
        let scan = Self.scanWithTable()
        let crop = InputPreparation.BodyCrop(thresholdHU: -500, marginMM: 10)
        let spec = InputPreparation(
            orientation: "RAS", resample: .spacing([1.5, 1.5, 2.5]), normalization: .clipScale(min: -200, max: 300),
            bodyCrop: crop)
        let prepared = try Preparation.prepare(scan, as: spec, threads: 2)
        let box = prepared.record.crop
        // Same spacing: the prepared grid is the box, reoriented, voxel for voxel.
        #expect(prepared.volume.size == Extent3(box.size.i, box.size.j, box.size.k))
        // RAS from an LPS scan flips i and j: the prepared origin is the box's (max i, max j, min k) voxel.
        let corner = SIMD3(Double(box.upper[0] - 1), Double(box.upper[1] - 1), Double(box.lower[2]))
        #expect(length(prepared.volume.geometry.origin - scan.geometry.point(atIndex: corner)) < 1e-9)
    }
}
