import Phantom
import Volumes

#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// Total hip replacements and the artifacts their metal brings. Abdominal CT of older patients
/// often crosses one or two (a ball in place of the femoral head, a cup in the acetabulum, a stem
/// down the femur; cobalt-chrome or titanium, beyond the scanner's 3071 HU ceiling), and filtered
/// back-projection turns the beam hardening and photon starvation behind the metal into dark and
/// bright streaks that radiate from it and a dark band between two implants, across the bladder
/// and rectum (Boas and Fleischmann, Imaging in Medicine 4:229, 2012). A checkpoint trained
/// without them missed a real bladder on every slice such streaks crossed.
enum HipImplants {
    /// What metal reads as: the ceiling of 12-bit CT.
    static let metalHU: Float = 3071
    /// Scanner-grid HU above which a voxel is taken for metal (bone stays below ~1900).
    static let metalThreshold: Float = 2200

    /// Draws the implants on the fine grid. `sides`: 0 left, 1 right (the femoral heads of `layout`).
    static func paint(
        _ hu: inout [Float], grid: Geometry, layout: TrunkLayout, sides: [Int], using rng: inout SeededGenerator
    ) {
        let n = grid.size
        let (o, s) = (grid.origin, grid.spacing)
        for index in sides {
            let side = index == 0 ? 1.0 : -1.0  // LPS: the left hip lies towards +x
            let head = layout.heads[index]
            let r = layout.headRadius
            let ball = r * rng.uniform(0.75...0.9)
            let cupInner = r + rng.uniform(0.5...2)
            let cupOuter = cupInner + rng.uniform(2.5...4.5)
            // The cup's dome points medially and up; its opening faces out and down.
            let dome = SIMD3(-side * 0.6, 0, 0.8)
            let neckEnd = head + SIMD3(side * (r + 28), -6, -r - 12)
            let stem: [(SIMD3<Double>, SIMD3<Double>, Double)] = [
                (head, neckEnd, rng.uniform(6...8)),
                (neckEnd, neckEnd + SIMD3(-side * 4, -2, -rng.uniform(90...150)), rng.uniform(6...9))
            ]
            let reach = SIMD3(r + 60, max(cupOuter + 5, 25), 0)
            let lo = head - reach - SIMD3(0, 0, 170)
            let hi = head + reach + SIMD3(0, 0, cupOuter + 5)
            let i0 = max(0, Int(((lo.x - o.x) / s.x).rounded(.down)))
            let i1 = min(n.i - 1, Int(((hi.x - o.x) / s.x).rounded(.up)))
            let j0 = max(0, Int(((lo.y - o.y) / s.y).rounded(.down)))
            let j1 = min(n.j - 1, Int(((hi.y - o.y) / s.y).rounded(.up)))
            let k0 = max(0, Int(((lo.z - o.z) / s.z).rounded(.down)))
            let k1 = min(n.k - 1, Int(((hi.z - o.z) / s.z).rounded(.up)))
            guard i0 <= i1, j0 <= j1, k0 <= k1 else { continue }
            for k in k0...k1 {
                for j in j0...j1 {
                    for i in i0...i1 {
                        let q = o + s * SIMD3(Double(i), Double(j), Double(k))
                        let d = q - head
                        let distance = (d * d).sum().squareRoot()
                        var metal =
                            distance <= ball
                            || (distance >= cupInner && distance <= cupOuter && (d * dome).sum() > -0.15 * distance)
                        if !metal {
                            for (a, b, radius) in stem where segmentDistance(q, a, b) <= radius {
                                metal = true
                                break
                            }
                        }
                        if metal { hu[i + n.i * (j + n.j * k)] = metalHU }
                    }
                }
            }
        }
    }

    static func segmentDistance(_ q: SIMD3<Double>, _ a: SIMD3<Double>, _ b: SIMD3<Double>) -> Double {
        let ab = b - a
        let t = min(1, max(0, ((q - a) * ab).sum() / (ab * ab).sum()))
        let d = q - (a + ab * t)
        return (d * d).sum().squareRoot()
    }

    /// Streaks on the scanner grid, per slice from where that slice holds metal: lines through
    /// each implant's centroid at angles drawn once per scan (mostly dark, some bright), fading
    /// with distance, their strength growing with the metal's cross-section; with metal on both
    /// sides, a dark band between the two.
    static func addStreaks(
        _ image: inout [Float], geometry g: Geometry, layout: TrunkLayout, using rng: inout SeededGenerator
    ) {
        let n = g.size
        let plane = n.i * n.j
        let midline = (layout.heads[0].x + layout.heads[1].x) / 2
        let strength = rng.uniform(150...600)
        let fade = rng.uniform(60...160)
        // Each line by its unit normal (the distance across it is one dot product per pixel).
        let lines = (0..<Int(rng.uniform(10...24))).map { _ in
            let angle = rng.uniform(0...Double.pi)
            return (
                normal: SIMD2(sin(angle), -cos(angle)), amplitude: rng.uniform(-1...0.5), width: rng.uniform(0.8...2.5)
            )
        }
        let band = (depth: rng.uniform(300...900), width: rng.uniform(3...8))
        // A full ball's cross-section: the metal at which streaks reach full strength.
        let fullArea = Double.pi * layout.headRadius * layout.headRadius * 0.6 / (g.spacing.x * g.spacing.y)
        for k in 0..<n.k {
            var count = [0.0, 0.0]
            var sum = [SIMD2<Double>.zero, .zero]
            for j in 0..<n.j {
                for i in 0..<n.i where image[k * plane + i + n.i * j] > metalThreshold {
                    let p = SIMD2(g.origin.x + g.spacing.x * Double(i), g.origin.y + g.spacing.y * Double(j))
                    let side = p.x >= midline ? 0 : 1
                    count[side] += 1
                    sum[side] += p
                }
            }
            let sources = (0..<2).filter { count[$0] > 0 }.map {
                (centre: sum[$0] / count[$0], weight: min(1, (count[$0] / fullArea).squareRoot()))
            }
            guard !sources.isEmpty else { continue }
            for j in 0..<n.j {
                let y = g.origin.y + g.spacing.y * Double(j)
                for i in 0..<n.i {
                    let v = k * plane + i + n.i * j
                    guard image[v] <= metalThreshold else { continue }
                    let p = SIMD2(g.origin.x + g.spacing.x * Double(i), y)
                    var change = 0.0
                    for source in sources {
                        let d = p - source.centre
                        let r = (d * d).sum().squareRoot()
                        let decay = strength * source.weight * exp(-r / fade)
                        for line in lines {
                            let across = abs((d * line.normal).sum())
                            guard across < 3 * line.width else { continue }
                            change += line.amplitude * decay * exp(-across * across / (2 * line.width * line.width))
                        }
                    }
                    if sources.count == 2 {
                        let a = sources[0].centre
                        let ab = sources[1].centre - a
                        let t = ((p - a) * ab).sum() / (ab * ab).sum()
                        if t > 0, t < 1 {
                            let d = p - (a + ab * t)
                            change -=
                                band.depth * min(sources[0].weight, sources[1].weight)
                                * exp(-(d * d).sum() / (2 * band.width * band.width))
                        }
                    }
                    image[v] += Float(change)
                }
            }
        }
    }
}
