/// The number of voxels along each axis of a volume; `i` runs fastest in memory.
public struct Extent3: Sendable, Equatable, Hashable, Codable, CustomStringConvertible {
    public var i: Int
    public var j: Int
    public var k: Int

    public init(_ i: Int, _ j: Int, _ k: Int) {
        self.i = i
        self.j = j
        self.k = k
    }

    public var count: Int { i * j * k }
    public var sliceCount: Int { i * j }
    public var description: String { "\(i)×\(j)×\(k)" }
    public subscript(axis: Int) -> Int { axis == 0 ? i : axis == 1 ? j : k }
}

/// Where a voxel grid sits in the patient, in DICOM's LPS coordinates (millimetres):
/// x grows towards the patient's left, y towards posterior, z towards the head.
///
/// Voxel (i, j, k) has its centre at `origin + direction * (spacing * (i, j, k))`.
/// The columns of `direction` are the unit vectors of the i, j and k axes.
public struct Geometry: Sendable, Equatable, Hashable, Codable {
    public var size: Extent3
    public var spacing: SIMD3<Double>
    public var origin: SIMD3<Double>
    public var direction: Matrix3

    public init(
        size: Extent3, spacing: SIMD3<Double> = [1, 1, 1], origin: SIMD3<Double> = [0, 0, 0],
        direction: Matrix3 = .identity
    ) {
        self.size = size
        self.spacing = spacing
        self.origin = origin
        self.direction = direction
    }

    /// The LPS position of a (possibly fractional) voxel index.
    public func point(atIndex index: SIMD3<Double>) -> SIMD3<Double> {
        origin + direction * (spacing * index)
    }

    /// The (fractional) voxel index of an LPS position.
    public func index(atPoint point: SIMD3<Double>) -> SIMD3<Double> {
        (direction.inverse * (point - origin)) / spacing
    }

    /// Volume of one voxel in millilitres.
    public var voxelVolumeML: Double { spacing.x * spacing.y * spacing.z / 1000 }

    /// The 4×4 matrix from voxel index to LPS millimetres, row by row.
    public var affineLPS: [[Double]] {
        let m = direction
        return (0..<3).map { r in
            [m[r, 0] * spacing.x, m[r, 1] * spacing.y, m[r, 2] * spacing.z, origin[r]]
        } + [[0, 0, 0, 1]]
    }

    /// The 4×4 matrix from voxel index to RAS millimetres (what NIfTI, nibabel and viewers use).
    public var affineRAS: [[Double]] {
        var a = affineLPS
        for c in 0..<4 {
            a[0][c] = -a[0][c]
            a[1][c] = -a[1][c]
        }
        return a
    }

    /// Builds a geometry from a voxel-to-LPS affine (3×4 or 4×4, row by row).
    public init(size: Extent3, affineLPS a: [[Double]]) {
        var direction = Matrix3.identity
        var spacing = SIMD3<Double>(1, 1, 1)
        for c in 0..<3 {
            let column = SIMD3(a[0][c], a[1][c], a[2][c])
            let norm = length(column)
            spacing[c] = norm
            direction[c] = norm > 0 ? column / norm : Matrix3.identity[c]
        }
        self.init(size: size, spacing: spacing, origin: [a[0][3], a[1][3], a[2][3]], direction: direction)
    }

    /// Three letters naming, for the i, j and k axes, the patient side each axis runs towards,
    /// in the RAS convention of nibabel's `aff2axcodes` (e.g. "LAS" for dcm2niix's axial output).
    public var orientationCode: String {
        let lpsLetters: [(positive: Character, negative: Character)] = [("L", "R"), ("P", "A"), ("S", "I")]
        return String(
            (0..<3).map { axis -> Character in
                let v = direction[axis]
                let dominant = (0..<3).max { abs(v[$0]) < abs(v[$1]) }!
                return v[dominant] >= 0 ? lpsLetters[dominant].positive : lpsLetters[dominant].negative
            })
    }

    public func isApproximatelyEqual(to other: Geometry, tolerance: Double = 1e-4) -> Bool {
        size == other.size
            && all(abs(spacing - other.spacing) .<= SIMD3(repeating: tolerance))
            && all(abs(origin - other.origin) .<= SIMD3(repeating: tolerance))
            && direction.isApproximatelyEqual(to: other.direction, tolerance: tolerance)
    }
}

@inlinable func abs(_ v: SIMD3<Double>) -> SIMD3<Double> { SIMD3(Swift.abs(v.x), Swift.abs(v.y), Swift.abs(v.z)) }
