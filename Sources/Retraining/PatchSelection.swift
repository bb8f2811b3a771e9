import Volumes

/// Chooses the windows of a prepared scan worth keeping: greedily, each next window is centred
/// on the organ with the most voxels not yet inside a chosen window, so that a few windows cover
/// the organs the student found, small ones included, and not only background. When every organ
/// voxel is covered (or none was found), the remaining windows spread along the scan's axis.
public enum PatchSelection {
    /// Window origins [k, j, i]; a window larger than the scan starts before it (padded).
    public static func origins(labels: [UInt8], size: Extent3, window: [Int], count: Int) -> [[Int]] {
        let dims = [size.k, size.j, size.i]
        var covered = [Bool](repeating: false, count: labels.count)
        var uncovered = [Int](repeating: 0, count: 256)
        for l in labels where l > 0 { uncovered[Int(l)] += 1 }
        var origins: [[Int]] = []
        func clampedOrigin(_ centre: [Int]) -> [Int] {
            (0..<3).map { a in
                if dims[a] <= window[a] { return (dims[a] - window[a]) / 2 }
                return min(max(centre[a] - window[a] / 2, 0), dims[a] - window[a])
            }
        }
        for n in 0..<count {
            let organ = (1..<256).max { uncovered[$0] < uncovered[$1] }!
            var origin: [Int]
            if uncovered[organ] > 0 {
                // The middle (in scan order) uncovered voxel of that organ.
                var seen = 0
                var target = uncovered[organ] / 2
                var centre = 0
                for v in labels.indices where Int(labels[v]) == organ && !covered[v] {
                    if seen == target {
                        centre = v
                        break
                    }
                    seen += 1
                }
                origin = clampedOrigin([centre / (size.i * size.j), (centre / size.i) % size.j, centre % size.i])
            } else {
                let t = count == 1 ? 0.5 : Double(n) / Double(count - 1)
                origin = clampedOrigin([Int(Double(dims[0]) * t), dims[1] / 2, dims[2] / 2])
            }
            origins.append(origin)
            for z in max(0, origin[0])..<min(dims[0], origin[0] + window[0]) {
                for y in max(0, origin[1])..<min(dims[1], origin[1] + window[1]) {
                    for x in max(0, origin[2])..<min(dims[2], origin[2] + window[2]) {
                        let v = x + size.i * (y + size.j * z)
                        if !covered[v] {
                            covered[v] = true
                            if labels[v] > 0 { uncovered[Int(labels[v])] -= 1 }
                        }
                    }
                }
            }
        }
        return origins
    }

    /// The values of a window at `origin` ([k, j, i]), `fill` outside the scan.
    public static func crop<T>(_ values: [T], size: Extent3, origin: [Int], window: [Int], fill: T) -> [T] {
        var out = [T](repeating: fill, count: window.reduce(1, *))
        for z in 0..<window[0] {
            let k = origin[0] + z
            guard k >= 0 && k < size.k else { continue }
            for y in 0..<window[1] {
                let j = origin[1] + y
                guard j >= 0 && j < size.j else { continue }
                for x in 0..<window[2] {
                    let i = origin[2] + x
                    guard i >= 0 && i < size.i else { continue }
                    out[(z * window[1] + y) * window[2] + x] = values[i + size.i * (j + size.j * k)]
                }
            }
        }
        return out
    }
}
