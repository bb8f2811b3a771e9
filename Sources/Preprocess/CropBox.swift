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

    public var size: Extent3 { Extent3(upper[0] - lower[0], upper[1] - lower[1], upper[2] - lower[2]) }

    public func contains(_ i: Int, _ j: Int, _ k: Int) -> Bool {
        i >= lower[0] && i < upper[0] && j >= lower[1] && j < upper[1] && k >= lower[2] && k < upper[2]
    }

    public var description: String { "[\(lower[0])..<\(upper[0]), \(lower[1])..<\(upper[1]), \(lower[2])..<\(upper[2])]" }

    /// The same voxels seen through a reorientation (index box on the reoriented grid).
    public func reoriented(by r: Reorientation) -> CropBox {
        var lo = [0, 0, 0], hi = [0, 0, 0]
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
