internal import CNIfTI
import Glibc
import Volumes

/// NIfTI-1 reading and writing through nifticlib, in `.nii`, `.nii.gz` and `.nii.zst`.
///
/// Written files carry the RAS affine that dcm2niix writes: qform = sform, both with code 1
/// (scanner anatomy), millimetre units, no scaling.
public enum NIfTIFile {
    /// The header and the raw voxel bytes.
    public static func read(_ path: String) throws -> NIfTIImage {
        let stream = try NIfTIVoxelStream(path)
        return NIfTIImage(
            geometry: stream.geometry, datatype: stream.stored.datatype, slope: stream.stored.slope,
            intercept: stream.stored.intercept, qformCode: stream.qformCode, sformCode: stream.sformCode,
            bytes: try stream.readAllBytes(), path: path)
    }

    /// A scan in Hounsfield units (real values rounded and clamped to Int16), read from the file
    /// straight into the volume: stored int16 without scaling lands as is; other types and
    /// scaled values are converted a slab at a time. Peak memory: the volume plus a few MiB.
    public static func readHounsfield(_ path: String) throws -> Volume<Int16> {
        try NIfTIVoxelStream(path).readVolume(identityWhenUnscaled: true, VoxelRules.hounsfield)
    }

    /// A label map, read like `readHounsfield`; fails when a voxel is not an integer in 0...255.
    public static func readLabels(_ path: String) throws -> Volume<UInt8> {
        try NIfTIVoxelStream(path).readVolume(identityWhenUnscaled: true) { try VoxelRules.label($0, path: path) }
    }

    /// Writes `volume` to `path`; the container follows the file name.
    public static func write<Voxel: NIfTIVoxel>(
        _ volume: Volume<Voxel>, to path: String, description: String = "lcovnet"
    ) throws {
        guard let format = NIfTIFormat(path: path) else {
            throw NIfTIError(path: path, reason: "not a NIfTI file name (expected .nii, .nii.gz or .nii.zst)")
        }
        var header = makeHeader(
            geometry: volume.geometry, datatype: Voxel.niftiDatatype,
            bytesPerVoxel: MemoryLayout<Voxel>.stride, description: description)
        switch format {
        case .nii, .niiGz:
            try volume.voxels.withUnsafeBytes { raw in
                try check(path) { err, len in cnifti_write_file(path, &header, raw.baseAddress, err, len) }
            }
        case .niiZst:
            var head = [UInt8](repeating: 0, count: 352)
            try check(path) { err, len in cnifti_encode_header(&header, &head, err, len) }
            let writer = try ZstdFileWriter(path: path)
            try writer.write(head)
            try volume.voxels.withUnsafeBytes { try writer.write($0) }
            try writer.finish()
        }
    }

    static func makeHeader(geometry g: Geometry, datatype: Int32, bytesPerVoxel: Int, description: String)
        -> cnifti_header
    {
        var h = cnifti_header()
        h.dim = (Int32(g.size.i), Int32(g.size.j), Int32(g.size.k))
        h.datatype = datatype
        h.bytes_per_voxel = Int32(bytesPerVoxel)
        h.pixdim = (Float(g.spacing.x), Float(g.spacing.y), Float(g.spacing.z))
        h.qform_code = 1
        h.sform_code = 1
        let a = g.affineRAS
        withUnsafeMutableBytes(of: &h.sto_xyz) { raw in
            let m = raw.bindMemory(to: Double.self)
            for r in 0..<4 { for c in 0..<4 { m[r * 4 + c] = a[r][c] } }
        }
        h.qto_xyz = h.sto_xyz
        h.scl_slope = 1
        h.scl_inter = 0
        h.xyz_units = 2
        withUnsafeMutableBytes(of: &h.descrip) { raw in
            for (n, byte) in description.utf8.prefix(79).enumerated() { raw[n] = byte }
        }
        return h
    }
}

/// Runs a shim call that reports failure as -1 plus a message, and throws that message.
func check(_ path: String, _ call: (UnsafeMutablePointer<CChar>, Int) -> Int32) throws {
    var message = [CChar](repeating: 0, count: 512)
    let status = message.withUnsafeMutableBufferPointer { call($0.baseAddress!, $0.count) }
    if status != 0 {
        let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        // The shim appends the path itself for file errors; keep one path in the line.
        let reason = text.hasSuffix(": \(path)") ? String(text.dropLast(path.count + 2)) : text
        throw NIfTIError(path: path, reason: reason)
    }
}
