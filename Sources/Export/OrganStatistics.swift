import Dispatch
import ModelSpec
import Volumes

/// Per-organ measurements on the scan's own grid.
public struct OrganStatistics: Sendable, Equatable, Codable {
    public var label: Int
    public var name: String
    public var voxelCount: Int
    /// voxelCount × the volume of one voxel.
    public var volumeML: Double
    /// Mean and population standard deviation of the scan's HU inside the organ; nil when absent.
    public var huMean: Double?
    public var huStd: Double?
    /// Inclusive voxel-index bounds (i, j, k) of the organ; nil when absent.
    public var bboxMin: [Int]?
    public var bboxMax: [Int]?

    enum CodingKeys: String, CodingKey {
        case label, name
        case voxelCount = "voxel_count"
        case volumeML = "volume_ml"
        case huMean = "hu_mean"
        case huStd = "hu_std"
        case bboxMin = "bbox_min_ijk"
        case bboxMax = "bbox_max_ijk"
    }

    /// One pass over labels and HU, one k-plane per task on `threads` threads. Every class but
    /// background is listed, absent ones with a zero count, so the file's shape never changes.
    public static func measure(labels: Volume<UInt8>, scan: Volume<Int16>, classes: [OrganClass], threads: Int = 1)
        throws -> [OrganStatistics]
    {
        guard labels.geometry.isApproximatelyEqual(to: scan.geometry, tolerance: 1e-6) else {
            throw ExportError(
                path: "statistics.json",
                reason: "labels \(labels.geometry.size) and scan \(scan.geometry.size) are not on the same grid")
        }
        let size = labels.geometry.size
        var planes = [PlaneSums](repeating: PlaneSums(), count: size.k)
        labels.voxels.withUnsafeBufferPointer { l in
            scan.voxels.withUnsafeBufferPointer { hu in
                planes.withUnsafeMutableBufferPointer { out in
                    let out = out
                    Parallel.forEach(size.k, threads: threads) { k in
                        var sums = PlaneSums()
                        sums.start()
                        for j in 0..<size.j {
                            let row = size.i * (j + size.j * k)
                            for i in 0..<size.i {
                                let label = Int(l[row + i])
                                guard label != 0 else { continue }
                                sums.add(label: label, hu: Double(hu[row + i]), i: i, j: j, k: k)
                            }
                        }
                        out[k] = sums
                    }
                }
            }
        }
        var total = PlaneSums()
        total.start()
        for plane in planes where !plane.count.isEmpty { total.merge(plane) }
        let voxelML = labels.geometry.voxelVolumeML
        return classes.filter { $0.id > 0 && $0.id < 256 }.map { organ in
            let n = total.count[organ.id]
            guard n > 0 else {
                return OrganStatistics(label: organ.id, name: organ.name, voxelCount: 0, volumeML: 0)
            }
            let mean = total.sum[organ.id] / Double(n)
            let variance = max(0, total.sumSquares[organ.id] / Double(n) - mean * mean)
            return OrganStatistics(
                label: organ.id, name: organ.name, voxelCount: n, volumeML: Double(n) * voxelML,
                huMean: mean, huStd: variance.squareRoot(),
                bboxMin: total.lower[organ.id], bboxMax: total.upper[organ.id])
        }
    }

    public init(
        label: Int, name: String, voxelCount: Int, volumeML: Double, huMean: Double? = nil, huStd: Double? = nil,
        bboxMin: [Int]? = nil, bboxMax: [Int]? = nil
    ) {
        self.label = label
        self.name = name
        self.voxelCount = voxelCount
        self.volumeML = volumeML
        self.huMean = huMean
        self.huStd = huStd
        self.bboxMin = bboxMin
        self.bboxMax = bboxMax
    }
}

/// Sums for every label value over some planes.
struct PlaneSums {
    var count: [Int] = []
    var sum: [Double] = []
    var sumSquares: [Double] = []
    var lower: [[Int]] = []
    var upper: [[Int]] = []

    mutating func start() {
        count = [Int](repeating: 0, count: 256)
        sum = [Double](repeating: 0, count: 256)
        sumSquares = [Double](repeating: 0, count: 256)
        lower = [[Int]](repeating: [Int.max, Int.max, Int.max], count: 256)
        upper = [[Int]](repeating: [-1, -1, -1], count: 256)
    }

    mutating func add(label: Int, hu: Double, i: Int, j: Int, k: Int) {
        count[label] += 1
        sum[label] += hu
        sumSquares[label] += hu * hu
        if i < lower[label][0] { lower[label][0] = i }
        if j < lower[label][1] { lower[label][1] = j }
        if k < lower[label][2] { lower[label][2] = k }
        if i > upper[label][0] { upper[label][0] = i }
        if j > upper[label][1] { upper[label][1] = j }
        if k > upper[label][2] { upper[label][2] = k }
    }

    mutating func merge(_ other: PlaneSums) {
        for l in 0..<256 where other.count[l] > 0 {
            count[l] += other.count[l]
            sum[l] += other.sum[l]
            sumSquares[l] += other.sumSquares[l]
            for a in 0..<3 {
                lower[l][a] = min(lower[l][a], other.lower[l][a])
                upper[l][a] = max(upper[l][a], other.upper[l][a])
            }
        }
    }
}
