/// Voxel types lcovnet writes to NIfTI, with their NIFTI_TYPE codes.
public protocol NIfTIVoxel: Sendable, Numeric {
    static var niftiDatatype: Int32 { get }
}

extension Int16: NIfTIVoxel { public static var niftiDatatype: Int32 { 4 } }
extension UInt8: NIfTIVoxel { public static var niftiDatatype: Int32 { 2 } }
extension UInt16: NIfTIVoxel { public static var niftiDatatype: Int32 { 512 } }
extension Int32: NIfTIVoxel { public static var niftiDatatype: Int32 { 8 } }
extension Float: NIfTIVoxel { public static var niftiDatatype: Int32 { 16 } }
