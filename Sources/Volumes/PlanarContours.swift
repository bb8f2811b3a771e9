/// The outlines of a binary mask on one slice as closed polygons, what an RT Structure Set stores
/// (CLOSED_PLANAR contours). Every border between a pixel inside and one outside is crossed by
/// exactly one loop, a quarter pixel from the inside pixel's centre (a hole is a loop inside a
/// loop), so both ways readers turn contours back into masks give the mask pixel for pixel:
/// pixel centres inside by the even-odd rule (planning systems), and rounding the points to whole
/// pixels and filling with the outline included (rt-utils, OpenCV). Loops along the pixel borders
/// themselves would lie exactly half-way and round either way. Points are in pixel units,
/// (column, row), pixel centres at whole numbers; straight runs keep only their ends.
public enum PlanarContours {
    public static func loops(_ inside: (_ row: Int, _ column: Int) -> Bool, rows: Int, columns: Int) -> [[SIMD2<
        Double
    >]] {
        func isIn(_ r: Int, _ c: Int) -> Bool { r >= 0 && c >= 0 && r < rows && c < columns && inside(r, c) }
        // Directed border edges between corners (x, y) in 0...columns × 0...rows, the inside on
        // the right in image coordinates (y down): outlines run clockwise, holes anticlockwise.
        let stride = columns + 1
        func key(_ x: Int, _ y: Int) -> Int { y * stride + x }
        var outgoing: [Int: [Int]] = [:]
        func add(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int) { outgoing[key(x0, y0), default: []].append(key(x1, y1)) }
        for r in 0..<rows {
            for c in 0..<columns where isIn(r, c) {
                if !isIn(r - 1, c) { add(c, r, c + 1, r) }
                if !isIn(r, c + 1) { add(c + 1, r, c + 1, r + 1) }
                if !isIn(r + 1, c) { add(c + 1, r + 1, c, r + 1) }
                if !isIn(r, c - 1) { add(c, r + 1, c, r) }
            }
        }
        var result: [[SIMD2<Double>]] = []
        for start in outgoing.keys.sorted() {
            while let first = outgoing[start]?.first {
                outgoing[start]!.removeFirst()
                var corners = [start]
                var previous = start
                var current = first
                while current != start {
                    corners.append(current)
                    guard var choices = outgoing[current], !choices.isEmpty else { break }
                    // Where two outlines touch at a corner, turn right: pixels that meet only
                    // diagonally keep loops of their own.
                    let index =
                        choices.count == 1 ? 0 : rightTurn(from: previous, at: current, among: choices, stride: stride)
                    let next = choices.remove(at: index)
                    outgoing[current] = choices
                    previous = current
                    current = next
                }
                result.append(simplified(corners, stride: stride))
            }
        }
        return result
    }

    /// Of two edges leaving `corner`, the one turning right of the direction we came in.
    static func rightTurn(from previous: Int, at corner: Int, among choices: [Int], stride: Int) -> Int {
        func vector(_ a: Int, _ b: Int) -> (Int, Int) { (b % stride - a % stride, b / stride - a / stride) }
        let (dx, dy) = vector(previous, corner)
        for (i, choice) in choices.enumerated() {
            let (ex, ey) = vector(corner, choice)
            if dx * ey - dy * ex > 0 { return i }  // clockwise on screen (y down): a right turn
        }
        return 0
    }

    /// The loop's points, a quarter pixel inside each border edge's midpoint (marching squares at
    /// iso-level 0.75), without those in the middle of straight runs, in pixel coordinates.
    static func simplified(_ corners: [Int], stride: Int) -> [SIMD2<Double>] {
        let n = corners.count
        // In quarter pixels: the midpoint of the edge a→b moved a quarter pixel to its right,
        // where the inside pixel is (y down); corner (x, y) is pixel coordinate (x - ½, y - ½).
        let quarters: [SIMD2<Int>] = (0..<n).map { i in
            let a = corners[i]
            let b = corners[(i + 1) % n]
            let ax = a % stride
            let ay = a / stride
            let dx = b % stride - ax
            let dy = b / stride - ay
            return SIMD2(4 * ax + 2 * dx - dy - 2, 4 * ay + 2 * dy + dx - 2)
        }
        var points: [SIMD2<Double>] = []
        for i in 0..<n {
            let a = quarters[(i + n - 1) % n]
            let b = quarters[i]
            let c = quarters[(i + 1) % n]
            let d1 = b &- a
            let d2 = c &- b
            if d1.x * d2.y - d1.y * d2.x == 0 && d1.x * d2.x + d1.y * d2.y > 0 { continue }
            points.append(SIMD2(Double(b.x), Double(b.y)) / 4)
        }
        return points
    }
}
