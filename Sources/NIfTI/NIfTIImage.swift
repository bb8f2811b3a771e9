import Volumes

/// A NIfTI image as read from disk: its grid in LPS, its stored voxel type and scaling, and
/// the raw voxel bytes in this machine's byte order.
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

    /// Real voxel values (scaling applied) as Double, whatever the stored type.
    public func realValues() throws -> [Double] {
        try converted { $0 }
    }

    /// Converts every voxel's real value (scaling applied) with `transform`, straight from the
    /// stored bytes: no intermediate array of the whole volume in another type.
    func converted<T>(_ transform: (Double) throws -> T) throws -> [T] {
        let count = geometry.size.count
        let scale = slope == 0 ? 1.0 : Double(slope)
        let offset = slope == 0 ? 0.0 : Double(intercept)
        return try bytes.withUnsafeBytes { raw -> [T] in
            func convert<S>(_ type: S.Type, _ value: (S) -> Double) throws -> [T] {
                let typed = raw.bindMemory(to: S.self)
                return try (0..<count).map { try transform(value(typed[$0]) * scale + offset) }
            }
            switch datatype {
            case 2: return try convert(UInt8.self) { Double($0) }
            case 256: return try convert(Int8.self) { Double($0) }
            case 4: return try convert(Int16.self) { Double($0) }
            case 512: return try convert(UInt16.self) { Double($0) }
            case 8: return try convert(Int32.self) { Double($0) }
            case 768: return try convert(UInt32.self) { Double($0) }
            case 16: return try convert(Float.self) { Double($0) }
            case 64: return try convert(Double.self) { $0 }
            default:
                throw NIfTIError(path: "", reason: "unsupported NIfTI datatype \(datatype)")
            }
        }
    }

    /// Hounsfield units, rounded to the nearest integer and clamped to Int16.
    public func hounsfieldVolume() throws -> Volume<Int16> {
        // Stored int16 without scaling (what lcovnet and dcm2niix write for signed data) is already HU.
        if datatype == 4, slope == 0 || (slope == 1 && intercept == 0) {
            let voxels = bytes.withUnsafeBytes { Array($0.bindMemory(to: Int16.self).prefix(geometry.size.count)) }
            return Volume(geometry: geometry, voxels: voxels)
        }
        return Volume(geometry: geometry, voxels: try converted { Int16(clamping: Int($0.rounded())) })
    }

    /// Label values; fails when a voxel is not an integer in 0...255.
    public func labelVolume() throws -> Volume<UInt8> {
        let labels = try converted { v -> UInt8 in
            guard v >= 0, v <= 255, v == v.rounded() else {
                throw NIfTIError(path: "", reason: "a voxel holds \(v), not a label in 0...255")
            }
            return UInt8(v)
        }
        return Volume(geometry: geometry, voxels: labels)
    }

    public func floatVolume() throws -> Volume<Float> {
        Volume(geometry: geometry, voxels: try converted { Float($0) })
    }
}
