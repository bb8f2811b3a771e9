import Volumes

/// A box of voxel indices, lower bound inclusive and upper bound exclusive on each axis.
public struct CropBox: Sendable, Equatable, Codable, CustomStringConvertible {
    public var lower: [Int]
    public var upper: [Int]

    public init(lower: [Int], upper: [Int]) {
        self.lower = lower
        self.upper = upper
    }

    public init(whole size: Extent3) { self.init(lower: [0, 0, 0], upper: [size.i, size.j, size.k]) }

    /// The bounding box of the voxels that are not 0 (nnU-Net v1's `crop_to_nonzero`; filling
    /// the mask's holes first, as it does, cannot move the box), or the whole volume when all are 0.
    public init<Voxel: SampledVoxel>(nonzeroOf volume: Volume<Voxel>) {
        let size = volume.geometry.size
        var (iLow, iHigh, jLow, jHigh, kLow, kHigh) = (size.i, 0, size.j, 0, size.k, 0)
        volume.voxels.withUnsafeBufferPointer { v in
            for k in 0..<size.k {
                for j in 0..<size.j {
                    let row = size.i * (j + size.j * k)
                    guard let first = (0..<size.i).first(where: { v[row + $0].sampleValue != 0 }) else { continue }
                    let last = (first..<size.i).last(where: { v[row + $0].sampleValue != 0 })!
                    (iLow, iHigh) = (min(iLow, first), max(iHigh, last + 1))
                    (jLow, jHigh, kLow, kHigh) = (min(jLow, j), max(jHigh, j + 1), min(kLow, k), max(kHigh, k + 1))
                }
            }
        }
        let (lo, hi) = ([iLow, jLow, kLow], [iHigh, jHigh, kHigh])
        if hi[0] == 0 { self.init(whole: size) } else { self.init(lower: lo, upper: hi) }
    }

    public var size: Extent3 { Extent3(upper[0] - lower[0], upper[1] - lower[1], upper[2] - lower[2]) }

    public func contains(_ i: Int, _ j: Int, _ k: Int) -> Bool {
        i >= lower[0] && i < upper[0] && j >= lower[1] && j < upper[1] && k >= lower[2] && k < upper[2]
    }

    public var description: String {
        "[\(lower[0])..<\(upper[0]), \(lower[1])..<\(upper[1]), \(lower[2])..<\(upper[2])]"
    }

    /// The same voxels seen through a reorientation (index box on the reoriented grid).
    public func reoriented(by r: Reorientation) -> CropBox {
        var lo = [0, 0, 0]
        var hi = [0, 0, 0]
        for a in 0..<3 {
            let p = r.map.sourceAxis[a]
            if r.map.scale[a] < 0 {
                let n = r.sourceGeometry.size[p]
                lo[a] = n - upper[p]
                hi[a] = n - lower[p]
            } else {
                lo[a] = lower[p]
                hi[a] = upper[p]
            }
        }
        return CropBox(lower: lo, upper: hi)
    }
}
