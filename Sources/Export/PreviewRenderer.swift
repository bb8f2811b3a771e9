import ModelSpec
import Volumes

/// `preview.png`: axial, coronal and sagittal slices through the organs, in a soft-tissue HU
/// window, with each organ filled translucently in its class colour and outlined, and a legend
/// of the organs found with their volumes.
///
/// The slices are sampled in patient space on a square millimetre grid (nearest voxel), so
/// anisotropic, oblique and flipped scans all look as a viewer shows them, never squashed:
/// radiological convention (patient's right on the image's left), anterior up in the axial
/// view, superior up in the others. Each view cuts the scan where the most distinct organs
/// (then the most organ voxels) are.
public struct PreviewRenderer: Sendable {
    /// Soft-tissue window in HU.
    public var windowCentre = 50.0
    public var windowWidth = 400.0
    /// Pixels along the scan's longest physical extent.
    public var panelPixels = 360
    /// Opacity of the organ fill (outlines are opaque).
    public var fillOpacity = 0.4

    public init() {}

    public static let fileName = "preview.png"

    static let background: [UInt8] = [20, 20, 24]
    static let margin = 10
    static let minimumPanelPixels = 64

    public func render(labels: Volume<UInt8>, scan: Volume<Int16>, classes: [OrganClass], title: String) -> RGBImage {
        let census = LabelCensus(labels)
        let panels = views(labels: labels, scan: scan, classes: classes, census: census)
        let legend = legendPanel(
            census: census, classes: classes, voxelML: labels.geometry.voxelVolumeML,
            height: panels.map(\.height).max()!)
        let m = Self.margin
        let titleHeight = 30
        let width = panels.reduce(m) { $0 + $1.width + m } + legend.width + m
        let height = titleHeight + legend.height + 2 * m
        var image = RGBImage(width: width, height: height, fill: Self.background)
        image.draw(title, x: m, y: m, scale: 2, color: [230, 230, 230])
        var x = m
        for panel in panels {
            image.paste(panel, x: x, y: titleHeight + m)
            x += panel.width + m
        }
        image.paste(legend, x: x, y: titleHeight + m)
        return image
    }

    /// The axial, coronal and sagittal panels, captioned, at a common scale in mm per pixel.
    func views(labels: Volume<UInt8>, scan: Volume<Int16>, classes: [OrganClass], census: LabelCensus) -> [RGBImage] {
        let g = labels.geometry
        let box = PatientBox(g)
        let mm = max(box.extent.x, box.extent.y, box.extent.z) / Double(panelPixels)
        let planes = (0..<3).map { census.bestPlane(physicalAxis: $0, geometry: g) }

        // (horizontal axis, vertical axis, vertical runs downwards, fixed axis) in LPS.
        let views: [(name: String, h: Int, v: Int, down: Bool, fixed: Int, letters: [String])] = [
            ("axial", 0, 1, true, 2, ["R", "L", "A", "P"]),
            ("coronal", 0, 2, false, 1, ["R", "L", "S", "I"]),
            ("sagittal", 1, 2, false, 0, ["A", "P", "S", "I"])
        ]
        return views.map { view -> RGBImage in
            // A thin scan (one slice, a few) still gets panels its captions fit in; the part
            // beyond the scan stays black.
            let width = max(Self.minimumPanelPixels, Int((box.extent[view.h] / mm).rounded()))
            let height = max(Self.minimumPanelPixels, Int((box.extent[view.v] / mm).rounded()))
            var corner = box.lower
            corner[view.fixed] = planes[view.fixed]
            if !view.down { corner[view.v] = box.upper[view.v] }
            var du = SIMD3<Double>()
            var dv = SIMD3<Double>()
            du[view.h] = mm
            dv[view.v] = view.down ? mm : -mm
            var panel = slice(
                labels: labels, scan: scan, classes: classes, width: width, height: height,
                start: corner + du / 2 + dv / 2, du: du, dv: dv)
            panel.draw(view.name, x: 6, y: 6, scale: 2, color: [255, 255, 150], outlined: true)
            let l = view.letters
            panel.draw(l[0], x: 4, y: height / 2 - 8, scale: 2, outlined: true)
            panel.draw(l[1], x: width - 14, y: height / 2 - 8, scale: 2, outlined: true)
            panel.draw(l[2], x: width / 2 - 5, y: 6, scale: 2, outlined: true)
            panel.draw(l[3], x: width / 2 - 5, y: height - 22, scale: 2, outlined: true)
            if view.name == "axial" {
                let bar = Int((50 / mm).rounded())
                panel.fill(x: 8, y: height - 10, width: bar, height: 3, [255, 255, 255])
                panel.draw("5 cm", x: 8, y: height - 28, scale: 2, outlined: true)
            }
            return panel
        }
    }

    /// Renders and writes `preview.png` into `folder` atomically; returns its path.
    @discardableResult
    public func write(
        labels: Volume<UInt8>, scan: Volume<Int16>, classes: [OrganClass], title: String, into folder: String
    ) throws -> String {
        let path = "\(folder)/\(Self.fileName)"
        try AtomicFile.write(
            PNGEncoder.encode(render(labels: labels, scan: scan, classes: classes, title: title)), to: path)
        return path
    }

    /// One view: pixel (u, v) shows the voxel nearest to `start + u·du + v·dv` (LPS mm).
    func slice(
        labels: Volume<UInt8>, scan: Volume<Int16>, classes: [OrganClass], width: Int, height: Int,
        start: SIMD3<Double>, du: SIMD3<Double>, dv: SIMD3<Double>
    ) -> RGBImage {
        let g = labels.geometry
        let inverse = g.direction.inverse
        let index0 = (inverse * (start - g.origin)) / g.spacing
        let stepU = (inverse * du) / g.spacing
        let stepV = (inverse * dv) / g.spacing
        let n = g.size
        var label = [UInt8](repeating: 0, count: width * height)
        var grey = [UInt8](repeating: 0, count: width * height)
        var inside = [Bool](repeating: false, count: width * height)
        let low = windowCentre - windowWidth / 2
        for v in 0..<height {
            for u in 0..<width {
                let p = index0 + stepU * Double(u) + stepV * Double(v)
                let i = Int(p.x.rounded())
                let j = Int(p.y.rounded())
                let k = Int(p.z.rounded())
                guard i >= 0, j >= 0, k >= 0, i < n.i, j < n.j, k < n.k else { continue }
                let offset = i + n.i * (j + n.j * k)
                let q = u + width * v
                inside[q] = true
                label[q] = labels.voxels[offset]
                grey[q] = UInt8(max(0, min(255, (Double(scan.voxels[offset]) - low) / windowWidth * 255)))
            }
        }
        var colour = [[UInt8]](repeating: [255, 0, 255], count: 256)
        for c in classes where c.id >= 0 && c.id < 256 && c.color.count == 3 { colour[c.id] = c.color }
        var image = RGBImage(width: width, height: height, fill: [0, 0, 0])
        for v in 0..<height {
            for u in 0..<width {
                let q = u + width * v
                guard inside[q] else { continue }
                let l = label[q]
                let y = Double(grey[q])
                guard l != 0 else {
                    image.set(u, v, [grey[q], grey[q], grey[q]])
                    continue
                }
                let edge =
                    (u == 0 || label[q - 1] != l) || (u == width - 1 || label[q + 1] != l)
                    || (v == 0 || label[q - width] != l) || (v == height - 1 || label[q + width] != l)
                let c = colour[Int(l)]
                if edge {
                    image.set(u, v, c)
                } else {
                    image.set(u, v, c.map { UInt8((1 - fillOpacity) * y + fillOpacity * Double($0)) })
                }
            }
        }
        return image
    }

    func legendPanel(census: LabelCensus, classes: [OrganClass], voxelML: Double, height: Int) -> RGBImage {
        let found = classes.filter { $0.id > 0 && $0.id < 256 && census.total[$0.id] > 0 }
        let lines = found.map { organ -> (OrganClass, String, String) in
            (organ, organ.name, "\(Int((Double(census.total[organ.id]) * voxelML).rounded())) ml")
        }
        let nameWidth = lines.map { RGBImage.textWidth($0.1) }.max() ?? 0
        let volumeWidth = lines.map { RGBImage.textWidth($0.2) }.max() ?? 0
        let rowHeight = 22
        let width = max(RGBImage.textWidth("no organs found") + 16, 16 + 18 + 8 + nameWidth + 16 + volumeWidth + 8)
        var legend = RGBImage(width: width, height: max(height, 40 + rowHeight * lines.count), fill: [32, 32, 38])
        legend.draw(lines.isEmpty ? "no organs found" : "organs", x: 8, y: 8, scale: 2, color: [255, 255, 150])
        for (n, line) in lines.enumerated() {
            let y = 36 + n * rowHeight
            legend.fill(x: 8, y: y, width: 18, height: 16, line.0.color.count == 3 ? line.0.color : [255, 0, 255])
            legend.draw(line.1, x: 8 + 18 + 8, y: y + 1, scale: 2)
            legend.draw(line.2, x: width - 8 - RGBImage.textWidth(line.2), y: y + 1, scale: 2, color: [200, 200, 200])
        }
        return legend
    }
}

/// The scan's extent in LPS: the box around the outer faces of its voxels.
struct PatientBox {
    var lower = SIMD3<Double>(repeating: .infinity)
    var upper = SIMD3<Double>(repeating: -.infinity)

    init(_ g: Geometry) {
        let n = g.size
        for corner in 0..<8 {
            let index = SIMD3<Double>(
                corner & 1 == 0 ? -0.5 : Double(n.i) - 0.5,
                corner & 2 == 0 ? -0.5 : Double(n.j) - 0.5,
                corner & 4 == 0 ? -0.5 : Double(n.k) - 0.5)
            let p = g.point(atIndex: index)
            lower = pointwiseMin(lower, p)
            upper = pointwiseMax(upper, p)
        }
    }

    var extent: SIMD3<Double> { upper - lower }
}

/// Which labels each plane of each voxel axis holds, and how many voxels each label has.
struct LabelCensus {
    /// [axis][plane × 4 + word]: bit set of labels present (labels 0..255 in four 64-bit words).
    var present: [[UInt64]]
    /// [axis][plane]: labelled voxels.
    var voxels: [[Int]]
    var total: [Int]

    init(_ labels: Volume<UInt8>) {
        let n = labels.geometry.size
        var pi = [UInt64](repeating: 0, count: 4 * n.i)
        var pj = [UInt64](repeating: 0, count: 4 * n.j)
        var pk = [UInt64](repeating: 0, count: 4 * n.k)
        var vi = [Int](repeating: 0, count: n.i)
        var vj = [Int](repeating: 0, count: n.j)
        var vk = [Int](repeating: 0, count: n.k)
        var total = [Int](repeating: 0, count: 256)
        labels.voxels.withUnsafeBufferPointer { v in
            for k in 0..<n.k {
                for j in 0..<n.j {
                    let row = n.i * (j + n.j * k)
                    for i in 0..<n.i {
                        let l = Int(v[row + i])
                        guard l != 0 else { continue }
                        total[l] += 1
                        let word = l >> 6
                        let bit = UInt64(1) << UInt64(l & 63)
                        pi[4 * i + word] |= bit
                        pj[4 * j + word] |= bit
                        pk[4 * k + word] |= bit
                        vi[i] += 1
                        vj[j] += 1
                        vk[k] += 1
                    }
                }
            }
        }
        present = [pi, pj, pk]
        voxels = [vi, vj, vk]
        self.total = total
    }

    /// The LPS coordinate along `physicalAxis` of the plane of the voxel axis closest to it
    /// that holds the most distinct labels (then the most labelled voxels); the middle plane
    /// when nothing is labelled.
    func bestPlane(physicalAxis d: Int, geometry g: Geometry) -> Double {
        let axis = (0..<3).max { abs(g.direction[$0][d]) < abs(g.direction[$1][d]) }!
        let n = g.size[axis]
        var best = n / 2
        var bestScore = (0, 0)
        for plane in 0..<n {
            let score = ((0..<4).reduce(0) { $0 + present[axis][4 * plane + $1].nonzeroBitCount }, voxels[axis][plane])
            if score > bestScore {
                bestScore = score
                best = plane
            }
        }
        var index = SIMD3<Double>(Double(g.size.i - 1) / 2, Double(g.size.j - 1) / 2, Double(g.size.k - 1) / 2)
        index[axis] = Double(best)
        return g.point(atIndex: index)[d]
    }
}
