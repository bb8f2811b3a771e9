import Testing

@testable import Volumes

/// Loops a quarter pixel inside the pixel borders give the mask back pixel for pixel under the
/// even-odd rule, and every point rounds to a pixel of the mask (what rt-utils fills from).
@Suite struct PlanarContoursTests {
    /// Even-odd point-in-polygon over all loops, at pixel centres.
    static func fill(_ loops: [[SIMD2<Double>]], rows: Int, columns: Int) -> [Bool] {
        var out = [Bool](repeating: false, count: rows * columns)
        for r in 0..<rows {
            for c in 0..<columns {
                let p = SIMD2(Double(c), Double(r))
                var inside = false
                for loop in loops {
                    var j = loop.count - 1
                    for i in 0..<loop.count {
                        let a = loop[i]
                        let b = loop[j]
                        if (a.y > p.y) != (b.y > p.y), p.x < (b.x - a.x) * (p.y - a.y) / (b.y - a.y) + a.x {
                            inside.toggle()
                        }
                        j = i
                    }
                }
                out[r * columns + c] = inside
            }
        }
        return out
    }

    @Test(arguments: [1, 2, 3, 4, 5, 6, 7, 8])
    func randomMasksComeBackPixelForPixel(seed: Int) {
        let rows = 9 + seed
        let columns = 13
        var state = UInt64(seed) &* 0x9E37_79B9_7F4A_7C15
        let mask = (0..<(rows * columns)).map { _ -> Bool in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return (state >> 33) % 100 < UInt64(20 + 8 * seed)
        }
        let loops = PlanarContours.loops({ mask[$0 * columns + $1] }, rows: rows, columns: columns)
        #expect(Self.fill(loops, rows: rows, columns: columns) == mask)
        #expect(loops.allSatisfy { $0.count >= 4 })
        let rounded = loops.joined().map { (Int($0.y.rounded()), Int($0.x.rounded())) }
        #expect(rounded.allSatisfy { r, c in mask[r * columns + c] })
    }

    @Test func aPixelIsASquareAndARingHasAHole() {
        let one = PlanarContours.loops({ $0 == 1 && $1 == 2 }, rows: 3, columns: 4)
        #expect(one.count == 1 && one[0].count == 4)
        #expect(Set(one[0].map { [$0.x, $0.y] }) == [[2, 0.75], [2.25, 1], [2, 1.25], [1.75, 1]])
        let ring = PlanarContours.loops(
            { r, c in (1...3).contains(r) && (1...3).contains(c) && !(r == 2 && c == 2) }, rows: 5, columns: 5)
        #expect(ring.map(\.count).sorted() == [4, 8])  // the hole a diamond, the outline an octagon
        // Two pixels touching at a corner stay two loops.
        #expect(PlanarContours.loops({ ($0 == 0 && $1 == 0) || ($0 == 1 && $1 == 1) }, rows: 2, columns: 2).count == 2)
    }
}
