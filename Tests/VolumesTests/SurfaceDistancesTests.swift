import Foundation
import TestSupport
import Testing
import Volumes

/// Dice, HD95 and normalized surface Dice against MONAI's own (tools/surface_metrics_monai.py), on
/// lumpy organs in anisotropic voxels: overlapping, shifted, touching the grid's edge, present in
/// one map only.
@Suite struct SurfaceDistancesTests {
    static let monaiPython = ReferenceTools.sourceRoot.appendingPathComponent(".cache/torch-venv/bin/python").path
    static var hasMonai: Bool { FileManager.default.isExecutableFile(atPath: monaiPython) }

    /// Label maps of `size` with ellipsoids whose surface is roughened by a few sine waves.
    static func organs(_ size: Extent3, seed: UInt64, shift: SIMD3<Double>) -> [UInt8] {
        var rng = SplitMix64(seed: seed)
        func uniform(_ r: ClosedRange<Double>) -> Double {
            r.lowerBound + (r.upperBound - r.lowerBound) * Double(rng.next() >> 11) / Double(1 << 53)
        }
        // label, centre (voxels), radii (voxels); label 3 hangs over the grid's edge.
        let shapes: [(UInt8, SIMD3<Double>, SIMD3<Double>)] = [
            (1, [14, 16, 6], [8, 9, 3.5]), (2, [32, 14, 7], [6, 5, 3]), (3, [38, 30, 2], [7, 6, 3])
        ]
        let ripple = (0..<3).map { _ in (uniform(0.3...0.9), uniform(0.3...0.9), uniform(0...6)) }
        var map = [UInt8](repeating: 0, count: size.count)
        for z in 0..<size.k {
            for y in 0..<size.j {
                for x in 0..<size.i {
                    let p = SIMD3(Double(x), Double(y), Double(z)) - shift
                    for (label, centre, radii) in shapes {
                        let d = (p - centre) / radii
                        let bump = ripple.reduce(0.0) { $0 + 0.08 * sin($1.0 * p.x + $1.1 * p.y + $1.2) }
                        if (d * d).sum() < 1 + bump { map[(z * size.j + y) * size.i + x] = label }
                    }
                }
            }
        }
        return map
    }

    @Test(
        .enabled(if: hasMonai, "needs .cache/torch-venv with MONAI (scripts/install-deps.sh)"),
        arguments: [(SIMD3<Double>(0.8, 0.7, 2.5), 1.0), (SIMD3<Double>(1, 1, 1), 2.0)])
    func hd95AndSurfaceDiceEqualMONAIs(spacing: SIMD3<Double>, tolerance: Double) throws {
        let size = Extent3(44, 40, 12)
        let reference = Self.organs(size, seed: 1, shift: .zero)
        var prediction = Self.organs(size, seed: 2, shift: [1.5, -1, 0.5])
        // Label 4 only in the prediction; label 5 in neither.
        for x in 2..<6 { prediction[(4 * size.j + 36) * size.i + x] = 4 }

        let dir = try TemporaryDirectory()
        try Data(prediction).write(to: URL(fileURLWithPath: dir.file("pred.raw")))
        try Data(reference).write(to: URL(fileURLWithPath: dir.file("ref.raw")))
        let result = try ReferenceTools.run(
            Self.monaiPython,
            [
                ReferenceTools.sourceRoot.appendingPathComponent("tools/surface_metrics_monai.py").path,
                dir.file("pred.raw"), dir.file("ref.raw"), "\(size.i)", "\(size.j)", "\(size.k)",
                "\(spacing.x)", "\(spacing.y)", "\(spacing.z)", "\(tolerance)", "1", "2", "3", "4"
            ])
        #expect(result.status == 0, "\(result.stderr)")
        let monai = try #require(
            try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: [String: Any]])

        for label: UInt8 in 1...4 {
            let ours = try #require(
                SurfaceDistances(
                    prediction: prediction, reference: reference, size: size, spacing: spacing, label: label))
            let theirs = try #require(monai["\(label)"])
            if let hd = theirs["hd95"] as? Double {
                #expect(
                    abs(ours.hausdorff95 - hd) <= 0.01, "label \(label): \(ours.hausdorff95) mm against MONAI's \(hd)")
                #expect(hd > 0, "label \(label): the maps differ, so must their boundaries")
            } else {
                // A label in one map only: MONAI says infinite or NaN (the quantile of infinities).
                #expect(ours.hausdorff95.isInfinite && label == 4, "label \(label)")
            }
            let nsd = try #require(theirs["nsd"] as? Double)
            #expect(
                abs(ours.surfaceDice(toleranceMM: tolerance) - nsd) <= 1e-6,
                "label \(label): \(ours.surfaceDice(toleranceMM: tolerance)) against MONAI's \(nsd)")
            // Dice as `evaluate` computes it (LabelOverlap), against MONAI's compute_dice.
            let dice = try #require(theirs["dice"] as? Double)
            let overlap = LabelOverlap(prediction: prediction, reference: reference, labelCount: 6)
            let ourDice = try #require(overlap.dice(Int(label)))
            #expect(abs(ourDice - dice) <= 1e-6, "label \(label): Dice \(ourDice) against MONAI's \(dice)")
        }
        #expect(
            SurfaceDistances(prediction: prediction, reference: reference, size: size, spacing: spacing, label: 5)
                == nil)
    }

    /// Identical maps: every boundary voxel is on the other boundary.
    @Test func identicalMapsAreAtZeroDistance() {
        let size = Extent3(44, 40, 12)
        let map = Self.organs(size, seed: 1, shift: .zero)
        let d = SurfaceDistances(prediction: map, reference: map, size: size, spacing: [0.8, 0.7, 2.5], label: 1)
        #expect(d?.hausdorff95 == 0)
        #expect(d?.surfaceDice(toleranceMM: 0) == 1)
    }
}
