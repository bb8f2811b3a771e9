import Foundation
import TestSupport
import Testing
import Volumes

@testable import Preprocess

@Suite struct LargestComponentTests {
    /// Blobs of four labels scattered so that each label has several pieces of different sizes.
    static func blobs() -> Volume<UInt8> {
        let g = Geometry(size: Extent3(48, 40, 30))
        var v = Volume<UInt8>(geometry: g, repeating: 0)
        var rng = SplitMix64(seed: 7)
        for n in 0..<40 {
            let label = UInt8(1 + n % 4)
            let c = SIMD3(Double(rng.next() % 48), Double(rng.next() % 40), Double(rng.next() % 30))
            let r = 1.5 + Double(rng.next() % 60) / 10
            for k in 0..<30 {
                for j in 0..<40 {
                    for i in 0..<48 {
                        let d = SIMD3(Double(i), Double(j), Double(k)) - c
                        if (d * d).sum() <= r * r { v[i, j, k] = label }
                    }
                }
            }
        }
        return v
    }

    @Test(.enabled(if: ReferenceIO.hasNumericPython, "needs python3 with numpy and scipy"))
    func matchesScipyLabel() throws {
        let dir = try TemporaryDirectory()
        let input = Self.blobs()
        try ReferenceIO.writeRaw(input.voxels, to: dir.file("in.raw"))
        var ours = input
        // Label 2 keeps its two largest pieces (as the adrenal glands do), label 3 all of them
        // (as bowel loops do), the others their largest.
        LargestComponent.keepLargestPerLabel(&ours, threads: 2, pieces: [1, 1, 2, 0])
        let script = """
            import sys, numpy as np
            from scipy import ndimage
            x = np.fromfile(sys.argv[1], np.uint8).reshape(30, 40, 48)
            y = x.copy()
            keep = {2: 2, 3: 0}
            for l in range(1, 256):
                k = keep.get(l, 1)
                comp, n = ndimage.label(x == l)
                if k > 0 and n > k:
                    sizes = np.bincount(comp.ravel())[1:]
                    kept = 1 + np.argsort(-sizes, kind="stable")[:k]
                    y[(comp > 0) & ~np.isin(comp, kept)] = 0
            y.tofile(sys.argv[2])
            print(int((y != x).sum()))
            """
        let removed = try ReferenceTools.python(script, [dir.file("in.raw"), dir.file("out.raw")])
        #expect(
            Int(removed.trimmingCharacters(in: .whitespacesAndNewlines))! > 0, "the fixture must have pieces to remove")
        #expect(try ReferenceIO.readRaw(UInt8.self, from: dir.file("out.raw")) == ours.voxels)
    }

    /// A bladder-like label: a big piece high up, the true piece below it, and a small island
    /// lower still. The lowest-piece rule keeps the middle one, whichever way k runs.
    @Test(arguments: [1.0, -1.0])
    func lowestPieceKeepsThePlaceNotTheSize(kTowardsHead: Double) {
        let direction = Matrix3(columns: [1, 0, 0], [0, 1, 0], [0, 0, kTowardsHead])
        var v = Volume<UInt8>(geometry: Geometry(size: Extent3(20, 20, 40), direction: direction), repeating: 0)
        // Height order (feet first): island, true piece, big piece.
        let heights = kTowardsHead > 0 ? [2, 12, 28] : [37, 27, 11]
        func paint(k: Int, radius: Int) {
            for kk in (k - radius)...(k + radius) {
                for j in (10 - radius)...(10 + radius) {
                    for i in (10 - radius)...(10 + radius) {
                        v[i, j, kk] = 1
                    }
                }
            }
        }
        paint(k: heights[0], radius: 1)  // 27 voxels: under a quarter of the largest
        paint(k: heights[1], radius: 3)  // 343 voxels
        paint(k: heights[2], radius: 5)  // 1 331 voxels
        var largest = v
        var lowest = v
        LargestComponent.keepLargestPerLabel(&largest)
        LargestComponent.keepLargestPerLabel(&lowest, lowest: [false, true])
        #expect(largest.voxels.filter { $0 == 1 }.count == 1331)
        #expect(lowest.voxels.filter { $0 == 1 }.count == 343)
        #expect(lowest[10, 10, heights[1]] == 1)
    }
}
