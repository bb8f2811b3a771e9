internal import CNIfTI
import Glibc
import Volumes

/// NIfTI-1 reading and writing through nifticlib, in `.nii`, `.nii.gz` and `.nii.zst`.
///
/// Written files carry the RAS affine that dcm2niix writes: qform = sform, both with code 1
/// (scanner anatomy), millimetre units, no scaling.
public enum NIfTIFile {
    public static func read(_ path: String) throws -> NIfTIImage {
        guard let format = NIfTIFormat(path: path) else {
            throw NIfTIError(path: path, reason: "not a NIfTI file name (expected .nii, .nii.gz or .nii.zst)")
        }
        var header = cnifti_header()
        let bytes: [UInt8]
        switch format {
        case .nii, .niiGz:
            guard access(path, R_OK) == 0 else { throw NIfTIError(path: path, reason: String(cString: strerror(errno))) }
            var data: UnsafeMutableRawPointer?
            try check(path) { err, len in cnifti_read_file(path, &header, &data, err, len) }
            defer { free(data) }
            let count = Int(header.dim.0) * Int(header.dim.1) * Int(header.dim.2) * Int(header.bytes_per_voxel)
            bytes = Array(UnsafeRawBufferPointer(start: data, count: count))
        case .niiZst:
            let file = try ZstdFile.decompress(path)
            var voxOffset = 0
            var swapped: Int32 = 0
            try file.withUnsafeBytes { raw in
                try check(path) { err, len in
                    cnifti_decode_header(raw.baseAddress!.assumingMemoryBound(to: UInt8.self), raw.count,
                                         &header, &voxOffset, &swapped, err, len)
                }
            }
            let count = Int(header.dim.0) * Int(header.dim.1) * Int(header.dim.2) * Int(header.bytes_per_voxel)
            guard voxOffset >= 348, file.count >= voxOffset + count else {
                throw NIfTIError(path: path, reason: "file is truncated: \(file.count) bytes, voxels need \(voxOffset + count)")
            }
            var voxels = Array(file[voxOffset..<(voxOffset + count)])
            if swapped != 0 { swapBytes(&voxels, width: Int(header.bytes_per_voxel)) }
            bytes = voxels
        }
        return NIfTIImage(header: header, bytes: bytes)
    }

    /// Writes `volume` to `path`; the container follows the file name.
    public static func write<Voxel: NIfTIVoxel>(_ volume: Volume<Voxel>, to path: String, description: String = "lcovnet") throws {
        guard let format = NIfTIFormat(path: path) else {
            throw NIfTIError(path: path, reason: "not a NIfTI file name (expected .nii, .nii.gz or .nii.zst)")
        }
        var header = makeHeader(geometry: volume.geometry, datatype: Voxel.niftiDatatype,
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

    static func makeHeader(geometry g: Geometry, datatype: Int32, bytesPerVoxel: Int, description: String) -> cnifti_header {
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

extension NIfTIImage {
    init(header h: cnifti_header, bytes: [UInt8]) {
        let size = Extent3(Int(h.dim.0), Int(h.dim.1), Int(h.dim.2))
        // sform when set, else qform, else the bare spacing (ANALYZE-style files).
        var matrix = [[Double]](repeating: [0, 0, 0, 0], count: 4)
        let source = h.sform_code > 0 ? h.sto_xyz : h.qto_xyz
        if h.sform_code > 0 || h.qform_code > 0 {
            withUnsafeBytes(of: source) { raw in
                let m = raw.bindMemory(to: Double.self)
                for r in 0..<4 { for c in 0..<4 { matrix[r][c] = m[r * 4 + c] } }
            }
        } else {
            matrix = [[Double(h.pixdim.0), 0, 0, 0], [0, Double(h.pixdim.1), 0, 0], [0, 0, Double(h.pixdim.2), 0], [0, 0, 0, 1]]
        }
        // RAS → LPS: negate the first two rows.
        for c in 0..<4 {
            matrix[0][c] = -matrix[0][c]
            matrix[1][c] = -matrix[1][c]
        }
        self.init(geometry: Geometry(size: size, affineLPS: matrix), datatype: h.datatype,
                  slope: h.scl_slope, intercept: h.scl_inter, qformCode: h.qform_code, sformCode: h.sform_code,
                  bytes: bytes)
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

func swapBytes(_ bytes: inout [UInt8], width: Int) {
    guard width > 1 else { return }
    var n = 0
    while n + width <= bytes.count {
        bytes[n..<(n + width)].reverse()
        n += width
    }
}
