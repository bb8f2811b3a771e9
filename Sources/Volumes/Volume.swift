/// A 3D image whose voxels never travel without their place in the patient.
///
/// Voxels are stored with i fastest, then j, then k: `voxels[i + size.i * (j + size.j * k)]`.
public struct Volume<Voxel: Sendable>: Sendable {
    public var geometry: Geometry
    public var voxels: [Voxel]

    public init(geometry: Geometry, voxels: [Voxel]) {
        precondition(
            voxels.count == geometry.size.count,
            "a \(geometry.size) volume needs \(geometry.size.count) voxels, got \(voxels.count)")
        self.geometry = geometry
        self.voxels = voxels
    }

    public init(geometry: Geometry, repeating value: Voxel) {
        self.init(geometry: geometry, voxels: Array(repeating: value, count: geometry.size.count))
    }

    public var size: Extent3 { geometry.size }

    @inlinable public func offset(_ i: Int, _ j: Int, _ k: Int) -> Int {
        i + geometry.size.i * (j + geometry.size.j * k)
    }

    @inlinable public subscript(i: Int, j: Int, k: Int) -> Voxel {
        get { voxels[offset(i, j, k)] }
        set { voxels[offset(i, j, k)] = newValue }
    }

    /// The same grid with other voxel values.
    public func map<Other: Sendable>(_ transform: (Voxel) throws -> Other) rethrows -> Volume<Other> {
        Volume<Other>(geometry: geometry, voxels: try voxels.map(transform))
    }
}

extension Volume: Equatable where Voxel: Equatable {}
