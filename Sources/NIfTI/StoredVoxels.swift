/// How a NIfTI file stores its voxels: the NIFTI_TYPE code and the scaling from stored value
/// to real value (`real = stored × slope + intercept`; slope 0 means none).
struct StoredVoxels: Sendable {
    var datatype: Int32
    var bytesPerVoxel: Int
    var slope: Float
    var intercept: Float

    /// Real value = stored value.
    var isUnscaled: Bool { slope == 0 || (slope == 1 && intercept == 0) }

    static let supportedDatatypes: Set<Int32> = [2, 256, 4, 512, 8, 768, 16, 64]

    func checkSupported(path: String) throws {
        guard Self.supportedDatatypes.contains(datatype) else {
            throw NIfTIError(path: path, reason: "unsupported NIfTI datatype \(datatype)")
        }
    }

    /// Converts the stored voxels in `raw` (this machine's byte order) to `out`, one voxel per
    /// element, through their real values.
    func convert<T>(
        _ raw: UnsafeRawBufferPointer, into out: UnsafeMutableBufferPointer<T>, path: String,
        _ transform: (Double) throws -> T
    ) throws {
        let scale = slope == 0 ? 1.0 : Double(slope)
        let offset = slope == 0 ? 0.0 : Double(intercept)
        func run<S>(_ type: S.Type, _ value: (S) -> Double) throws {
            let typed = raw.bindMemory(to: S.self)
            precondition(typed.count >= out.count)
            for n in 0..<out.count { out[n] = try transform(value(typed[n]) * scale + offset) }
        }
        switch datatype {
        case 2: try run(UInt8.self) { Double($0) }
        case 256: try run(Int8.self) { Double($0) }
        case 4: try run(Int16.self) { Double($0) }
        case 512: try run(UInt16.self) { Double($0) }
        case 8: try run(Int32.self) { Double($0) }
        case 768: try run(UInt32.self) { Double($0) }
        case 16: try run(Float.self) { Double($0) }
        case 64: try run(Double.self) { $0 }
        default: throw NIfTIError(path: path, reason: "unsupported NIfTI datatype \(datatype)")
        }
    }
}

/// The rules that turn real voxel values into lcovnet's voxel types.
enum VoxelRules {
    /// Hounsfield units, rounded to the nearest integer and clamped to Int16.
    static func hounsfield(_ value: Double) -> Int16 { Int16(clamping: Int(value.rounded())) }

    /// A label: an integer in 0...255, else an error naming the file.
    static func label(_ value: Double, path: String) throws -> UInt8 {
        guard value >= 0, value <= 255, value == value.rounded() else {
            throw NIfTIError(path: path, reason: "a voxel holds \(value), not a label in 0...255")
        }
        return UInt8(value)
    }
}
