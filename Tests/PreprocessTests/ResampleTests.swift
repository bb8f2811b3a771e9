import Foundation
import ModelSpec
import TestSupport
import Testing
import Volumes

@testable import Preprocess

@Suite struct ResampleTests {
    static let source = Geometry(
        size: Extent3(40, 36, 20), spacing: [1, 1, 2.5], origin: [10, -20, 30],
        direction: Matrix3(columns: [1, 0, 0], [0, -1, 0], [0, 0, 1]))

    func resample(_ image: Volume<Float>, _ mode: InputPreparation.Resampling) -> Volume<Float> {
        let grid = ResampleGrid(mode, inputSize: image.size, inputSpacing: image.geometry.spacing)
        let map = AxisAlignedMap.identity.appending(scale: grid.scale, offset: grid.offset)
        return Resampler.resample(image, map: map, size: grid.size, threads: 2)
    }

    /// PyMIC's Rescale is scipy.ndimage.zoom(order=1) on the (k, j, i) array.
    @Test(.enabled(if: ReferenceIO.hasNumericPython, "needs python3 with numpy and scipy"))
    func fixedShapeMatchesScipyZoom() throws {
        let dir = try TemporaryDirectory()
        let image = smoothImage(Self.source)
        try ReferenceIO.writeRaw(image.voxels, to: dir.file("in.raw"))
        let ours = resample(image, .fixedShape(i: 64, j: 29, k: 33))
        let script = """
            import sys, numpy as np
            from scipy.ndimage import zoom
            x = np.fromfile(sys.argv[1], '<f4').reshape(20, 36, 40).astype(np.float64)
            y = zoom(x, (33 / 20, 29 / 36, 64 / 40), order=1)
            assert y.shape == (33, 29, 64), y.shape
            y.astype('<f4').tofile(sys.argv[2])
            """
        _ = try ReferenceTools.python(script, [dir.file("in.raw"), dir.file("out.raw")])
        let reference = try ReferenceIO.readRaw(Float.self, from: dir.file("out.raw"))
        let worst = zip(ours.voxels, reference).map { abs($0 - $1) }.max()!
        #expect(worst < 1e-3, "largest difference from scipy: \(worst)")
        // The first and last voxel centres stay where they were.
        #expect(length(ours.geometry.origin - Self.source.origin) < 1e-12)
        let last = SIMD3<Double>(63, 28, 32)
        let sourceLast = SIMD3<Double>(39, 35, 19)
        #expect(length(ours.geometry.point(atIndex: last) - Self.source.point(atIndex: sourceLast)) < 1e-9)
    }

    /// The spacing mode keeps the field of view: torch's interpolate(align_corners=False) when
    /// the extent divides evenly.
    @Test(.enabled(if: ReferenceIO.hasTorch, "needs python3 with torch"))
    func targetSpacingMatchesTorchWithoutAlignedCorners() throws {
        let dir = try TemporaryDirectory()
        let image = smoothImage(Self.source)
        try ReferenceIO.writeRaw(image.voxels, to: dir.file("in.raw"))
        let ours = resample(image, .spacing([1.6, 1.5, 2]))
        #expect(ours.size == Extent3(25, 24, 25))
        #expect(ours.geometry.spacing == [1.6, 1.5, 2])
        let script = """
            import sys, numpy as np, torch
            x = torch.from_numpy(np.fromfile(sys.argv[1], '<f4').reshape(1, 1, 20, 36, 40))
            y = torch.nn.functional.interpolate(x, size=(25, 24, 25), mode='trilinear', align_corners=False)
            y.numpy().astype('<f4').tofile(sys.argv[2])
            """
        _ = try ReferenceTools.python(script, [dir.file("in.raw"), dir.file("out.raw")])
        let reference = try ReferenceIO.readRaw(Float.self, from: dir.file("out.raw"))
        let worst = zip(ours.voxels, reference).map { abs($0 - $1) }.max()!
        #expect(worst < 1e-3, "largest difference from torch: \(worst)")
        // The field of view's outer faces coincide: same centre, same extent.
        let centre = Self.source.point(atIndex: [19.5, 17.5, 9.5])
        #expect(length(ours.geometry.point(atIndex: [12, 11.5, 12]) - centre) < 1e-9)
    }

    /// The whole preparation the official checkpoint expects, against numpy and scipy.
    @Test(.enabled(if: ReferenceIO.hasNumericPython, "needs python3 with numpy and scipy"))
    func officialPreparationMatchesScipyZoomAndZScore() throws {
        let dir = try TemporaryDirectory()
        let hu = Volume(geometry: Self.source, voxels: smoothImage(Self.source).voxels.map { Int16($0.rounded()) })
        try ReferenceIO.writeRaw(hu.voxels, to: dir.file("in.raw"))
        let spec = InputPreparation(
            orientation: nil, resample: .fixedShape(i: 48, j: 32, k: 24), normalization: .zScore, bodyCrop: nil)
        let ours = try Preparation.prepare(hu, as: spec, threads: 2)
        let script = """
            import sys, numpy as np
            from scipy.ndimage import zoom
            x = np.fromfile(sys.argv[1], '<i2').reshape(20, 36, 40).astype(np.float64)
            y = zoom(x, (24 / 20, 32 / 36, 48 / 40), order=1)
            y = (y - y.mean()) / y.std()
            y.astype('<f4').tofile(sys.argv[2])
            """
        _ = try ReferenceTools.python(script, [dir.file("in.raw"), dir.file("out.raw")])
        let reference = try ReferenceIO.readRaw(Float.self, from: dir.file("out.raw"))
        let worst = zip(ours.volume.voxels, reference).map { abs($0 - $1) }.max()!
        #expect(worst < 1e-4, "largest difference from scipy + z-score: \(worst)")
    }

    @Test func clipScaleMapsTheWindowOntoZeroToOne() throws {
        let hu = Volume(geometry: Self.source, voxels: (0..<Self.source.size.count).map { Int16($0 % 1000 - 500) })
        let spec = InputPreparation(
            orientation: "LPS", resample: .spacing([1, 1, 2.5]), normalization: .clipScale(min: -200, max: 300),
            bodyCrop: nil)
        let prepared = try Preparation.prepare(hu, as: spec, threads: 2)
        let flipped = try Reorientation(from: hu.geometry, to: "LPS").apply(hu)
        #expect(prepared.volume.geometry.isApproximatelyEqual(to: flipped.geometry, tolerance: 1e-9))
        #expect(prepared.volume.voxels == flipped.voxels.map { (min(max(Float($0), -200), 300) + 200) / 500 })
    }

    /// The record's minimum is what the windows pad with: it must be the prepared grid's lowest value.
    @Test(arguments: [
        InputPreparation.Normalization.zScore, .clipScale(min: -200, max: 300), .clipScale(min: -1500, max: 300)
    ])
    func recordedMinimumIsThePreparedMinimum(mode: InputPreparation.Normalization) throws {
        let hu = Volume(geometry: Self.source, voxels: smoothImage(Self.source).voxels.map { Int16($0.rounded()) })
        let spec = InputPreparation(
            orientation: "LPS", resample: .spacing([1.3, 1.1, 2]), normalization: mode, bodyCrop: nil)
        let prepared = try Preparation.prepare(hu, as: spec, threads: 2)
        #expect(prepared.record.normalization.minimum == prepared.volume.voxels.min())
    }
}
