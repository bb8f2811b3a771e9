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
        let count = geometry.size.count
        let scale = slope == 0 ? 1.0 : Double(slope)
        let offset = slope == 0 ? 0.0 : Double(intercept)
        var out = [Double](repeating: 0, count: count)
        try bytes.withUnsafeBytes { raw in
            func convert<T>(_ type: T.Type, _ value: (T) -> Double) {
                let typed = raw.bindMemory(to: T.self)
                for n in 0..<count { out[n] = value(typed[n]) * scale + offset }
            }
            switch datatype {
            case 2: convert(UInt8.self) { Double($0) }
            case 256: convert(Int8.self) { Double($0) }
            case 4: convert(Int16.self) { Double($0) }
            case 512: convert(UInt16.self) { Double($0) }
            case 8: convert(Int32.self) { Double($0) }
            case 768: convert(UInt32.self) { Double($0) }
            case 16: convert(Float.self) { Double($0) }
            case 64: convert(Double.self) { $0 }
            default:
                throw NIfTIError(path: "", reason: "unsupported NIfTI datatype \(datatype)")
            }
        }
        return out
    }

    /// Hounsfield units, rounded to the nearest integer and clamped to Int16.
    public func hounsfieldVolume() throws -> Volume<Int16> {
        let values = try realValues()
        return Volume(geometry: geometry, voxels: values.map { Int16(clamping: Int(($0).rounded())) })
    }

    /// Label values; fails when a voxel is not an integer in 0...255.
    public func labelVolume() throws -> Volume<UInt8> {
        let values = try realValues()
        var labels = [UInt8](repeating: 0, count: values.count)
        for (n, v) in values.enumerated() {
            guard v >= 0, v <= 255, v == v.rounded() else {
                throw NIfTIError(path: "", reason: "voxel \(n) holds \(v), not a label in 0...255")
            }
            labels[n] = UInt8(v)
        }
        return Volume(geometry: geometry, voxels: labels)
    }

    public func floatVolume() throws -> Volume<Float> {
        Volume(geometry: geometry, voxels: try realValues().map { Float($0) })
    }
}
