import Foundation
import ModelSpec
import TestSupport
import Testing
import Volumes

@testable import Export

@Suite struct PreviewTests {
    @Test(.enabled(if: ReferenceTools.hasPythonModules("PIL"), "needs python3 with PIL"))
    func pngDecodesToTheSamePixels() throws {
        let dir = try TemporaryDirectory()
        let (labels, scan) = ExportFixture.make()
        let image = PreviewRenderer().render(
            labels: labels, scan: scan, classes: OrganClass.word, title: "lcovnet test")
        try AtomicFile.write(PNGEncoder.encode(image), to: dir.file("p.png"))
        let script = """
            import sys
            from PIL import Image
            im = Image.open(sys.argv[1])
            im.load()
            print(im.mode, im.size[0], im.size[1])
            open(sys.argv[2], 'wb').write(im.tobytes())
            """
        let out = try ReferenceTools.python(script, [dir.file("p.png"), dir.file("p.rgb")])
        #expect(out.trimmingCharacters(in: .whitespacesAndNewlines) == "RGB \(image.width) \(image.height)")
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: dir.file("p.rgb")))) == image.pixels)
        // A person looking at the preview: LCOVNET_KEEP_PREVIEW=/some/folder keeps a copy.
        if let keep = ProcessInfo.processInfo.environment["LCOVNET_KEEP_PREVIEW"] {
            try PreviewRenderer().write(
                labels: labels, scan: scan, classes: OrganClass.word, title: "lcovnet  synthetic abdomen", into: keep)
        }
    }

    /// Scans of every odd shape get a preview that fits, never a trap (once: an 8-slice series of
    /// 2.5 mm, a single slice and 1 × 1 images stopped the renderer, and the daemon's job with it).
    @Test(arguments: [Extent3(1, 1, 1), Extent3(1, 1, 40), Extent3(64, 64, 1), Extent3(512, 512, 8), Extent3(2, 300, 3)]
    )
    func oddShapesGetAPreview(size: Extent3) {
        for spacing: SIMD3<Double> in [[0.7, 0.7, 2.5], [40, 40, 0.6], [0.1, 0.1, 10]] {
            let g = Geometry(size: size, spacing: spacing)
            var labels = Volume<UInt8>(geometry: g, repeating: 0)
            labels.voxels[labels.voxels.count / 2] = 1
            let scan = Volume<Int16>(geometry: g, repeating: 40)
            let image = PreviewRenderer().render(labels: labels, scan: scan, classes: OrganClass.word, title: "odd")
            #expect(image.width > 0 && image.height > 0 && image.pixels.count == 3 * image.width * image.height)
        }
    }

    /// A 60 mm ball on 1.6 × 1.6 × 4.5 mm voxels must look round in every view, and every
    /// organ the scan holds must be outlined in its colour somewhere.
    @Test func viewsAreDrawnInMillimetresThroughTheOrgans() throws {
        let g = ExportFixture.geometry()
        var (labels, scan) = ExportFixture.make(g)
        let centre = SIMD3<Double>(10, 0, 0)
        for k in 0..<g.size.k {
            for j in 0..<g.size.j {
                for i in 0..<g.size.i {
                    let d = g.point(atIndex: [Double(i), Double(j), Double(k)]) - centre
                    if (d * d).sum() <= 30 * 30 { labels[i, j, k] = 9 }
                }
            }
        }
        let renderer = PreviewRenderer()
        let census = LabelCensus(labels)
        let views = renderer.views(labels: labels, scan: scan, classes: OrganClass.word, census: census)
        let ball = OrganClass.word[9].color
        for view in views {
            var lo = [Int.max, Int.max]
            var hi = [Int.min, Int.min]
            for y in 0..<view.height {
                for x in 0..<view.width where view.pixel(x, y) == ball {
                    lo = [min(lo[0], x), min(lo[1], y)]
                    hi = [max(hi[0], x), max(hi[1], y)]
                }
            }
            let width = Double(hi[0] - lo[0] + 1)
            let height = Double(hi[1] - lo[1] + 1)
            #expect(abs(width / height - 1) < 0.15, "ball drawn \(width) × \(height) pixels")
        }
        let colours = Set(views.flatMap { v in (0..<(v.width * v.height)).map { v.pixel($0 % v.width, $0 / v.width) } })
        for organ in OrganClass.word where census.total[organ.id] > 0 {
            #expect(colours.contains(organ.color), "\(organ.name) is not outlined in any view")
        }
    }
}
