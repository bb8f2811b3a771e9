import Foundation
import Testing
import TestSupport
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
            for k in 0..<30 { for j in 0..<40 { for i in 0..<48 {
                let d = SIMD3(Double(i), Double(j), Double(k)) - c
                if (d * d).sum() <= r * r { v[i, j, k] = label }
            } } }
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
        #expect(Int(removed.trimmingCharacters(in: .whitespacesAndNewlines))! > 0, "the fixture must have pieces to remove")
        #expect(try ReferenceIO.readRaw(UInt8.self, from: dir.file("out.raw")) == ours.voxels)
    }
}

