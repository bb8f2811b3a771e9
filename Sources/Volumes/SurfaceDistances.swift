/// How far the boundary of one label in a prediction lies from its boundary in a reference, in
/// mm, on one grid: the 95 % Hausdorff distance and the normalized surface Dice that WORD reports
/// beside Dice, defined as MONAI 1.3 defines them (`compute_hausdorff_distance(percentile: 95)`,
/// `compute_surface_dice` without sub-voxels), so that figures compare with published ones:
/// - a boundary voxel is a voxel of the label with a face neighbour outside it (or outside the
///   grid: scipy's binary erosion with its 6-neighbour cross);
/// - a distance is the Euclidean one, with the voxel spacing, from a boundary voxel of one map to
///   the centre of the nearest boundary voxel of the other (exact, a separable distance transform);
/// - HD95 is the larger of the two directed 95th percentiles (linear interpolation between ranks);
///   NSD at τ mm is the share of both boundaries' voxels within τ of the other boundary.
public struct SurfaceDistances: Sendable {
    /// From each boundary voxel of the prediction to the reference's boundary, and back (mm).
    public var predictionToReference: [Double]
    public var referenceToPrediction: [Double]

    /// nil when the label is in neither map. A map without the label has no boundary: the other
    /// side's distances are all infinite.
    public init?(prediction: [UInt8], reference: [UInt8], size: Extent3, spacing: SIMD3<Double>, label: UInt8) {
        precondition(prediction.count == size.count && reference.count == size.count, "label maps of different sizes")
        guard let box = Self.boundingBox(of: label, in: [prediction, reference], size: size) else { return nil }
        let predicted = Self.boundary(of: label, in: prediction, size: size, box: box)
        let truth = Self.boundary(of: label, in: reference, size: size, box: box)
        predictionToReference = Self.distances(from: predicted, to: truth, box: box, spacing: spacing)
        referenceToPrediction = Self.distances(from: truth, to: predicted, box: box, spacing: spacing)
    }

    /// The 95th-percentile Hausdorff distance in mm (infinite when one map lacks the label).
    public var hausdorff95: Double {
        max(Self.percentile(predictionToReference, 95), Self.percentile(referenceToPrediction, 95))
    }

    /// Normalized surface Dice: the share of both boundaries within `toleranceMM` of the other.
    public func surfaceDice(toleranceMM: Double) -> Double {
        let within =
            predictionToReference.filter { $0 <= toleranceMM }.count
            + referenceToPrediction.filter { $0 <= toleranceMM }.count
        return Double(within) / Double(predictionToReference.count + referenceToPrediction.count)
    }

    /// numpy's default percentile: linear between the two ranks around q % of (n − 1).
    static func percentile(_ values: [Double], _ q: Double) -> Double {
        guard !values.isEmpty else { return .infinity }
        let sorted = values.sorted()
        let rank = q / 100 * Double(sorted.count - 1)
        let low = Int(rank.rounded(.down))
        let high = min(low + 1, sorted.count - 1)
        if sorted[low].isInfinite || sorted[high].isInfinite { return sorted[high] }
        return sorted[low] + (sorted[high] - sorted[low]) * (rank - Double(low))
    }

    /// The voxels with the label in either map, with one voxel of margin (clamped to the grid):
    /// the distance transform is exact within any box holding every boundary voxel.
    struct Box {
        var lower: SIMD3<Int>, upper: SIMD3<Int>  // inclusive
        var size: SIMD3<Int> { upper &- lower &+ 1 }
        var count: Int { size.x * size.y * size.z }
        func index(_ x: Int, _ y: Int, _ z: Int) -> Int {
            ((z - lower.z) * size.y + (y - lower.y)) * size.x + (x - lower.x)
        }
    }

    static func boundingBox(of label: UInt8, in maps: [[UInt8]], size: Extent3) -> Box? {
        var lower = SIMD3(Int.max, Int.max, Int.max)
        var upper = SIMD3(-1, -1, -1)
        let plane = size.i * size.j
        for map in maps {
            for (n, value) in map.enumerated() where value == label {
                let p = SIMD3(n % size.i, (n / size.i) % size.j, n / plane)
                lower = pointwiseMin(lower, p)
                upper = pointwiseMax(upper, p)
            }
        }
        guard upper.x >= 0 else { return nil }
        let last = SIMD3(size.i - 1, size.j - 1, size.k - 1)
        return Box(lower: pointwiseMax(lower &- 1, .zero), upper: pointwiseMin(upper &+ 1, last))
    }

    /// Boundary voxels of the label inside the box (true where a voxel of the label has a face
    /// neighbour that is not the label, or lies on the grid's edge).
    static func boundary(of label: UInt8, in map: [UInt8], size: Extent3, box: Box) -> [Bool] {
        var edge = [Bool](repeating: false, count: box.count)
        let plane = size.i * size.j
        for z in box.lower.z...box.upper.z {
            for y in box.lower.y...box.upper.y {
                for x in box.lower.x...box.upper.x {
                    let n = z * plane + y * size.i + x
                    guard map[n] == label else { continue }
                    let inside =
                        x > 0 && x < size.i - 1 && y > 0 && y < size.j - 1 && z > 0 && z < size.k - 1
                        && map[n - 1] == label && map[n + 1] == label && map[n - size.i] == label
                        && map[n + size.i] == label
                        && map[n - plane] == label && map[n + plane] == label
                    if !inside { edge[box.index(x, y, z)] = true }
                }
            }
        }
        return edge
    }

    /// For every `from` voxel, the distance in mm to the nearest `to` voxel (infinite when there is none).
    static func distances(from: [Bool], to: [Bool], box: Box, spacing: SIMD3<Double>) -> [Double] {
        guard to.contains(true) else { return from.filter { $0 }.map { _ in .infinity } }
        var squared = to.map { $0 ? 0.0 : .infinity }
        let s = box.size
        // Separable exact transform: along x, then y, then z (Felzenszwalb & Huttenlocher 2012).
        // Scratch for one line at a time, sized once for the longest axis.
        let longest = max(s.x, s.y, s.z)
        var line = [Double](repeating: 0, count: longest)
        var out = line
        var envelope = Envelope(length: longest)
        for (axis, length, stride, weight) in [
            (0, s.x, 1, spacing.x * spacing.x), (1, s.y, s.x, spacing.y * spacing.y),
            (2, s.z, s.x * s.y, spacing.z * spacing.z)
        ] {
            let others = box.count / length
            for o in 0..<others {
                // The first voxel of the o-th line along `axis`.
                let start: Int
                switch axis {
                case 0: start = o * s.x
                case 1: start = (o / s.x) * s.x * s.y + o % s.x
                default: start = o
                }
                for i in 0..<length { line[i] = squared[start + i * stride] }
                envelope.lower(line, length: length, weight: weight, into: &out)
                for i in 0..<length { squared[start + i * stride] = out[i] }
            }
        }
        return zip(from, squared).compactMap { $0 ? $1.squareRoot() : nil }
    }

    /// The lower envelope of the parabolas f[p] + weight·(q − p)² (Felzenszwalb & Huttenlocher),
    /// with its vertex and boundary arrays kept from line to line.
    struct Envelope {
        var v: [Int], z: [Double]

        init(length: Int) {
            v = [Int](repeating: 0, count: length)
            z = [Double](repeating: 0, count: length + 1)
        }

        /// d[q] = min over p of f[p] + weight·(q − p)² for q < length, over the sites where f is finite.
        mutating func lower(_ f: [Double], length n: Int, weight: Double, into d: inout [Double]) {
            var k = -1
            for q in 0..<n where f[q].isFinite {
                let fq = f[q] + weight * Double(q * q)
                var s = -Double.infinity
                while k >= 0 {
                    let p = v[k]
                    s = (fq - (f[p] + weight * Double(p * p))) / (2 * weight * Double(q - p))
                    if s <= z[k] { k -= 1 } else { break }
                }
                k += 1
                v[k] = q
                z[k] = k == 0 ? -.infinity : s
                z[k + 1] = .infinity
            }
            guard k >= 0 else {
                for q in 0..<n { d[q] = .infinity }
                return
            }
            var j = 0
            for q in 0..<n {
                while z[j + 1] < Double(q) { j += 1 }
                let p = v[j]
                d[q] = f[p] + weight * Double((q - p) * (q - p))
            }
        }
    }
}
