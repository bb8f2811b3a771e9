import Volumes

/// Where gas meets fluid in each hollow organ's lumen, per in-plane piece of the organ: every
/// loop, flexure and pouch has its own level (gas in its non-dependent part), as on a real scan,
/// instead of one plane through the whole organ's bounding box, which filled the front of the
/// colon with gas and its back (the flexures) with fluid.
enum LumenLevels {
    /// Labels whose content can layer: stomach, duodenum, colon, intestine, rectum, bladder.
    static let layered: Set<UInt8> = [5, 9, 10, 11, 13, 14]

    /// The level's y (mm, LPS) for each voxel of slice k whose label layers (0 elsewhere):
    /// top + fraction × height of its 4-connected piece of the slice, the fraction read at the
    /// piece's centre from `fraction` (so neighbouring slices of one segment agree).
    static func slice(_ k: Int, labels: UnsafeBufferPointer<UInt8>, grid: Geometry,
                      fraction: (UInt8, SIMD3<Double>) -> Double) -> [Float] {
        let n = grid.size
        let base = n.i * n.j * k
        var level = [Float](repeating: 0, count: n.i * n.j)
        var seen = [Bool](repeating: false, count: n.i * n.j)
        var piece: [Int] = []
        var stack: [Int] = []
        for start in 0..<(n.i * n.j) where !seen[start] {
            let l = labels[base + start]
            guard layered.contains(l) else { continue }
            piece.removeAll(keepingCapacity: true)
            stack.append(start)
            seen[start] = true
            var top = Int.max, bottom = Int.min, sumI = 0
            while let v = stack.popLast() {
                piece.append(v)
                let i = v % n.i, j = v / n.i
                top = min(top, j); bottom = max(bottom, j); sumI += i
                for (w, inside) in [(v - 1, i > 0), (v + 1, i < n.i - 1), (v - n.i, j > 0), (v + n.i, j < n.j - 1)]
                    where inside && !seen[w] && labels[base + w] == l {
                    seen[w] = true
                    stack.append(w)
                }
            }
            let centre = SIMD3(grid.origin.x + grid.spacing.x * Double(sumI) / Double(piece.count),
                               grid.origin.y + grid.spacing.y * Double(top + bottom) / 2,
                               grid.origin.z + grid.spacing.z * Double(k))
            let f = fraction(l, centre)
            let y = grid.origin.y + grid.spacing.y * (Double(top) - 0.5 + f * Double(bottom - top + 1))
            for v in piece { level[v] = Float(y) }
        }
        return level
    }
}
