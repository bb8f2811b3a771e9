import Volumes

/// Reorientation to a three-letter code (nibabel's `aff2axcodes` letters, as
/// `Geometry.orientationCode` gives them): an exact permutation and flip of the voxel axes,
/// with the geometry updated so that every voxel keeps its place in the patient.
public struct Reorientation: Sendable, Equatable {
    public var sourceGeometry: Geometry
    /// Reoriented index → source index.
    public var map: AxisAlignedMap
    public var size: Extent3

    /// - Throws: when `code` is not one letter from each of L/R, A/P, S/I, or when two axes of
    ///   the source run closest to the same patient axis (an oblique near 45°).
    public init(from source: Geometry, to code: String) throws {
        let target = Array(code.uppercased())
        let pairs: [Set<Character>] = [["L", "R"], ["A", "P"], ["S", "I"]]
        let opposite: [Character: Character] = ["L": "R", "R": "L", "A": "P", "P": "A", "S": "I", "I": "S"]
        guard target.count == 3, pairs.allSatisfy({ pair in target.filter { pair.contains($0) }.count == 1 }) else {
            throw PreprocessError("orientation \(code) is not one letter from each of L/R, A/P, S/I")
        }
        let sourceCode = Array(source.orientationCode)
        guard pairs.allSatisfy({ pair in sourceCode.filter { pair.contains($0) }.count == 1 }) else {
            throw PreprocessError("the scan's axes are too oblique to name an orientation (\(source.orientationCode))")
        }
        var axis = [0, 0, 0]
        var scale = SIMD3<Double>(1, 1, 1)
        var offset = SIMD3<Double>(0, 0, 0)
        var size = [0, 0, 0]
        for a in 0..<3 {
            let p = sourceCode.firstIndex { $0 == target[a] || $0 == opposite[target[a]] }!
            axis[a] = p
            size[a] = source.size[p]
            if sourceCode[p] != target[a] {
                scale[a] = -1
                offset[a] = Double(source.size[p] - 1)
            }
        }
        self.sourceGeometry = source
        self.map = AxisAlignedMap(sourceAxis: axis, scale: scale, offset: offset)
        self.size = Extent3(size[0], size[1], size[2])
    }

    public var geometry: Geometry { map.derivedGeometry(source: sourceGeometry, size: size) }

    public var isIdentity: Bool { map == .identity }

    /// The reoriented volume: a copy with permuted and flipped axes (one output-sized buffer).
    public func apply<Voxel>(_ volume: Volume<Voxel>, threads: Int = 1) -> Volume<Voxel> {
        precondition(volume.geometry.size == sourceGeometry.size, "volume is not on the reorientation's source grid")
        let tables = (0..<3).map { a -> [Int] in
            let p = map.sourceAxis[a]
            let stride = p == 0 ? 1 : p == 1 ? sourceGeometry.size.i : sourceGeometry.size.sliceCount
            return (0..<size[a]).map { Int(map.scale[a]) * $0 * stride + Int(map.offset[a]) * stride }
        }
        let out = size
        guard out.count > 0 else { return Volume(geometry: geometry, voxels: []) }
        let result = [Voxel](unsafeUninitializedCapacity: out.count) { buffer, initialized in
            volume.voxels.withUnsafeBufferPointer { src in
                let dst = buffer.baseAddress!
                Parallel.forEach(out.k, threads: threads) { k in
                    for j in 0..<out.j {
                        let base = tables[1][j] + tables[2][k]
                        let row = dst + out.i * (j + out.j * k)
                        for i in 0..<out.i { (row + i).initialize(to: src[base + tables[0][i]]) }
                    }
                }
            }
            initialized = out.count
        }
        return Volume(geometry: geometry, voxels: result)
    }
}
