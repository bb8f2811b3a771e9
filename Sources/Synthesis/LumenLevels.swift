import Volumes

/// Where gas meets fluid in each hollow organ's lumen, per in-plane piece of the organ: every
/// loop, flexure and pouch has its own level (gas in its non-dependent part), as on a real scan,
/// instead of one plane through the whole organ's bounding box, which filled the front of the
/// colon with gas and its back (the flexures) with fluid.
enum LumenLevels {
    /// The piece of a hollow organ a voxel lies in: its non-dependent (anterior) edge and its
    /// height in y (mm, LPS), and the fraction of that height its content leaves to gas.
    struct Piece {
        var top: Float = 0, height: Float = 0, gasFraction: Float = 0
        /// The y of a level `share` of the piece's gas fraction down from its top.
        func level(_ share: Float = 1) -> Double { Double(top + share * gasFraction * height) }
    }

    /// Labels whose content can layer: stomach, duodenum, colon, intestine, rectum, bladder.
    static let layered: Set<UInt8> = [5, 9, 10, 11, 13, 14]

    /// The piece of each voxel of slice k whose label layers (zero elsewhere): its 4-connected
    /// piece of the slice, with the gas fraction read at the piece's centre from `fraction`
    /// (so neighbouring slices of one segment agree).
    static func slice(
        _ k: Int, labels: UnsafeBufferPointer<UInt8>, grid: Geometry,
        fraction: (UInt8, SIMD3<Double>) -> Double
    ) -> [Piece] {
        let n = grid.size
        let base = n.i * n.j * k
        var pieces = [Piece](repeating: Piece(), count: n.i * n.j)
        var seen = [Bool](repeating: false, count: n.i * n.j)
        var members: [Int] = []
        var stack: [Int] = []
        for start in 0..<(n.i * n.j) where !seen[start] {
            let l = labels[base + start]
            guard layered.contains(l) else { continue }
            members.removeAll(keepingCapacity: true)
            stack.append(start)
            seen[start] = true
            var top = Int.max
            var bottom = Int.min
            var sumI = 0
            while let v = stack.popLast() {
                members.append(v)
                let i = v % n.i
                let j = v / n.i
                top = min(top, j)
                bottom = max(bottom, j)
                sumI += i
                // The four neighbours, without building an array per voxel.
                func visit(_ w: Int) {
                    guard !seen[w], labels[base + w] == l else { return }
                    seen[w] = true
                    stack.append(w)
                }
                if i > 0 { visit(v - 1) }
                if i < n.i - 1 { visit(v + 1) }
                if j > 0 { visit(v - n.i) }
                if j < n.j - 1 { visit(v + n.i) }
            }
            let centre = SIMD3(
                grid.origin.x + grid.spacing.x * Double(sumI) / Double(members.count),
                grid.origin.y + grid.spacing.y * Double(top + bottom) / 2,
                grid.origin.z + grid.spacing.z * Double(k))
            let piece = Piece(
                top: Float(grid.origin.y + grid.spacing.y * (Double(top) - 0.5)),
                height: Float(grid.spacing.y * Double(bottom - top + 1)),
                gasFraction: Float(fraction(l, centre)))
            for v in members { pieces[v] = piece }
        }
        return pieces
    }
}
