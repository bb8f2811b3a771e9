import Volumes

/// A NIfTI image as read from disk: its grid in LPS, its stored voxel type and scaling, and
/// the raw voxel bytes in this machine's byte order. For a scan or a label map, prefer
/// `NIfTIFile.readHounsfield` and `NIfTIFile.readLabels`, which never hold the raw bytes.
public struct NIfTIImage: Sendable {
    public var geometry: Geometry
    /// NIFTI_TYPE code of the stored voxels.
    public var datatype: Int32
    /// Scaling from stored value to real value (`real = stored × slope + intercept`); slope 0 means none.
    public var slope: Float
    public var intercept: Float
    public var qformCode: Int32
    public var sformCode: Int32
    public var bytes: [UInt8]
    /// The file it came from, for errors.
    var path: String

    var stored: StoredVoxels {
        StoredVoxels(
            datatype: datatype, bytesPerVoxel: geometry.size.count == 0 ? 0 : bytes.count / geometry.size.count,
            slope: slope, intercept: intercept)
    }

    /// Real voxel values (scaling applied) as Double, whatever the stored type.
    public func realValues() throws -> [Double] {
        try converted { $0 }
    }

    /// Converts every voxel's real value (scaling applied) with `transform`, straight from the
    /// stored bytes: no intermediate array of the whole volume in another type.
    func converted<T>(_ transform: (Double) throws -> T) throws -> [T] {
        let count = geometry.size.count
        let stored = stored
        try stored.checkSupported(path: path)
        return try [T](unsafeUninitializedCapacity: count) { out, initialized in
            try bytes.withUnsafeBytes { try stored.convert($0, into: out, path: path, transform) }
            initialized = count
        }
    }

    /// Hounsfield units, rounded to the nearest integer and clamped to Int16.
    public func hounsfieldVolume() throws -> Volume<Int16> {
        Volume(geometry: geometry, voxels: try converted(VoxelRules.hounsfield))
    }

    /// Label values; fails when a voxel is not an integer in 0...255.
    public func labelVolume() throws -> Volume<UInt8> {
        Volume(geometry: geometry, voxels: try converted { try VoxelRules.label($0, path: path) })
    }

    public func floatVolume() throws -> Volume<Float> {
        Volume(geometry: geometry, voxels: try converted { Float($0) })
    }
}
