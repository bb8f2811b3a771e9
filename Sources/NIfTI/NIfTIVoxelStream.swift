internal import CNIfTI
import Glibc
import Volumes

/// A NIfTI file opened for reading: the header parsed, the voxels read in order, a buffer at
/// a time, in this machine's byte order. `.nii` and `.nii.gz` go through nifticlib and znzlib
/// (which also zero non-finite floats, as nifticlib's whole-image load does); `.nii.zst`
/// through libzstd's streaming decoder. No buffer of the whole image is ever held here.
final class NIfTIVoxelStream {
    let path: String
    let geometry: Geometry
    let stored: StoredVoxels
    let qformCode: Int32
    let sformCode: Int32
    private let source: Source

    private enum Source {
        case znz(OpaquePointer)
        case zstd(ZstdFileReader, swapped: Bool, width: Int)
    }

    init(_ path: String) throws {
        guard let format = NIfTIFormat(path: path) else {
            throw NIfTIError(path: path, reason: "not a NIfTI file name (expected .nii, .nii.gz or .nii.zst)")
        }
        guard access(path, R_OK) == 0 else { throw NIfTIError(path: path, reason: String(cString: strerror(errno))) }
        var header = cnifti_header()
        switch format {
        case .nii, .niiGz:
            var reader: OpaquePointer?
            try check(path) { err, len in cnifti_open(path, &header, &reader, err, len) }
            source = .znz(reader!)
        case .niiZst:
            let reader = try ZstdFileReader(path: path)
            // The 348-byte header, then whatever lies between it and vox_offset (extensions).
            var head = [UInt8](repeating: 0, count: 348)
            let got = try head.withUnsafeMutableBytes { try reader.read(into: $0) }
            var voxOffset = 0
            var swapped: Int32 = 0
            try head.withUnsafeBytes { raw in
                try check(path) { err, len in
                    cnifti_decode_header(
                        raw.baseAddress!.assumingMemoryBound(to: UInt8.self), got,
                        &header, &voxOffset, &swapped, err, len)
                }
            }
            guard voxOffset >= 348 else {
                throw NIfTIError(path: path, reason: "vox_offset \(voxOffset) lies inside the header")
            }
            try reader.skip(voxOffset - 348)
            source = .zstd(reader, swapped: swapped != 0, width: Int(header.bytes_per_voxel))
        }
        self.path = path
        geometry = Self.geometry(header)
        qformCode = header.qform_code
        sformCode = header.sform_code
        stored = StoredVoxels(
            datatype: header.datatype, bytesPerVoxel: Int(header.bytes_per_voxel),
            slope: header.scl_slope, intercept: header.scl_inter)
        // Nothing is sized from the header before it passes the plausibility limits (all
        // properties are set, so a throw here still closes the reader in deinit).
        if format != .nii {
            let (bytes, overflow) = max(0, Int(header.dim.0)).multipliedReportingOverflow(
                by: max(0, Int(header.dim.1)) * max(0, Int(header.dim.2)) * max(0, Int(header.bytes_per_voxel)))
            try Plausibility.checkDecompressedNIfTI(bytes: overflow ? Int.max : bytes, path: path)
        }
        try Plausibility.checkGeometry(geometry, path: path)
        if format == .nii {
            // A plain file must hold what its header declares before that much is allocated.
            var info = stat()
            let needed = geometry.size.count * stored.bytesPerVoxel + 348
            if stat(path, &info) == 0, Int(info.st_size) < needed {
                throw NIfTIError(
                    path: path,
                    reason:
                        "NIfTI file is truncated (\(info.st_size) bytes; its header declares \(needed - 348) voxel bytes)"
                )
            }
        }
    }

    /// The voxel grid in LPS: sform when set, else qform, else the bare spacing (ANALYZE-style files).
    private static func geometry(_ h: cnifti_header) -> Geometry {
        let size = Extent3(Int(h.dim.0), Int(h.dim.1), Int(h.dim.2))
        var matrix = [[Double]](repeating: [0, 0, 0, 0], count: 4)
        let source = h.sform_code > 0 ? h.sto_xyz : h.qto_xyz
        if h.sform_code > 0 || h.qform_code > 0 {
            withUnsafeBytes(of: source) { raw in
                let m = raw.bindMemory(to: Double.self)
                for r in 0..<4 { for c in 0..<4 { matrix[r][c] = m[r * 4 + c] } }
            }
        } else {
            matrix = [
                [Double(h.pixdim.0), 0, 0, 0], [0, Double(h.pixdim.1), 0, 0], [0, 0, Double(h.pixdim.2), 0],
                [0, 0, 0, 1]
            ]
        }
        // RAS → LPS: negate the first two rows.
        for c in 0..<4 {
            matrix[0][c] = -matrix[0][c]
            matrix[1][c] = -matrix[1][c]
        }
        return Geometry(size: size, affineLPS: matrix)
    }

    deinit {
        if case .znz(let reader) = source { cnifti_close(reader) }
    }

    /// Fills `buffer` (a whole number of voxels) with the next voxel bytes; fails when the
    /// file ends first.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws {
        // Bounded reads: znzlib's gzip path counts in int.
        let step = 64 << 20
        var done = 0
        while done < buffer.count {
            let part = UnsafeMutableRawBufferPointer(rebasing: buffer[done..<min(buffer.count, done + step)])
            switch source {
            case .znz(let reader):
                try check(path) { err, len in cnifti_read_voxels(reader, part.baseAddress, part.count, err, len) }
            case .zstd(let reader, let swapped, let width):
                guard try reader.read(into: part) == part.count else {
                    throw NIfTIError(
                        path: path, reason: "NIfTI file is truncated (fewer voxel bytes than its header declares)")
                }
                if swapped { swapBytes(part, width: width) }
            }
            done += part.count
        }
    }

    /// All voxel bytes, as stored (in this machine's byte order).
    func readAllBytes() throws -> [UInt8] {
        let count = geometry.size.count * stored.bytesPerVoxel
        return try [UInt8](unsafeUninitializedCapacity: count) { out, initialized in
            try read(into: UnsafeMutableRawBufferPointer(out))
            initialized = count
        }
    }

    /// The volume's voxels converted by `transform` from their real values, a slab of the file
    /// at a time, into the volume's own storage; when the stored type already is `Voxel`
    /// without scaling and `transform` is the identity on it, the file is read straight in.
    func readVolume<Voxel: NIfTIVoxel>(
        identityWhenUnscaled: Bool,
        _ transform: (Double) throws -> Voxel
    ) throws -> Volume<Voxel> {
        let count = geometry.size.count
        try stored.checkSupported(path: path)
        let direct = identityWhenUnscaled && stored.isUnscaled && stored.datatype == Voxel.niftiDatatype
        let voxels = try [Voxel](unsafeUninitializedCapacity: count) { out, initialized in
            if direct {
                try read(into: UnsafeMutableRawBufferPointer(out))
            } else {
                let slab = 1 << 20
                let buffer = UnsafeMutableRawBufferPointer.allocate(
                    byteCount: slab * stored.bytesPerVoxel, alignment: 16)
                defer { buffer.deallocate() }
                var n = 0
                while n < count {
                    let m = min(slab, count - n)
                    let bytes = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<(m * stored.bytesPerVoxel)])
                    try read(into: bytes)
                    try stored.convert(
                        UnsafeRawBufferPointer(bytes), into: UnsafeMutableBufferPointer(rebasing: out[n..<(n + m)]),
                        path: path, transform)
                    n += m
                }
            }
            initialized = count
        }
        return Volume(geometry: geometry, voxels: voxels)
    }
}

func swapBytes(_ bytes: UnsafeMutableRawBufferPointer, width: Int) {
    guard width > 1 else { return }
    var n = 0
    while n + width <= bytes.count {
        var a = n
        var b = n + width - 1
        while a < b {
            bytes.swapAt(a, b)
            a += 1
            b -= 1
        }
        n += width
    }
}
