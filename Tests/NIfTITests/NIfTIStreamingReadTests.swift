import Foundation
import TestSupport
import Testing
import Volumes

@testable import NIfTI

/// The streaming readers against nibabel: files nibabel writes with scaling, other stored
/// types, big-endian bytes and header extensions, in all three containers, large enough that
/// the conversion runs over several slabs.
@Suite struct NIfTIStreamingReadTests {
    struct Reference: Decodable {
        var hu: [Int]
        var real: [Double]
    }

    /// Writes `name`.nii, .nii.gz and .nii.zst (header by nibabel) and returns nibabel's real
    /// values and HU (rounded half away from zero, clamped to int16), in i-fastest order.
    static func writeWithNibabel(
        _ dir: TemporaryDirectory, name: String, dtype: String, slope: Double, inter: Double,
        bigEndian: Bool, extensionText: String?
    ) throws -> Reference {
        let out = try ReferenceTools.python(
            """
            import sys, io, gzip, json, numpy as np, nibabel as nib
            base, dtype, slope, inter, big, ext = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), sys.argv[5] == '1', sys.argv[6]
            shape = (130, 97, 85)   # 1.07 M voxels: more than one conversion slab
            n = np.arange(np.prod(shape), dtype=np.int64)
            stored = (n * 7919) % 4001 - 1500
            if np.dtype(dtype).kind == 'u': stored = stored + 1500
            stored = stored + 0.37 if np.dtype(dtype).kind == 'f' else stored
            dt = np.dtype(dtype).newbyteorder('>' if big else '<')
            # nibabel's header writer with our own scaling (nib.save would choose its own).
            hdr = nib.Nifti1Header(endianness='>' if big else '<')
            hdr.set_data_shape(shape)
            hdr.set_data_dtype(dt)
            aff = np.array([[-0.7, 0.1, 0, 120], [0.1, 0.7, 0, -80], [0, 0, 2.5, 30], [0, 0, 0, 1.0]])
            hdr.set_qform(aff, 1)
            hdr.set_sform(aff, 1)
            hdr.set_xyzt_units('mm')
            hdr.set_slope_inter(slope, inter)
            if ext:
                hdr.extensions.append(nib.nifti1.Nifti1Extension('comment', ext.encode()))
            offset = int(352 + hdr.extensions.get_sizeondisk())
            hdr['vox_offset'] = offset
            out = io.BytesIO()
            hdr.write_to(out)
            out.write(b'\\0' * (offset - len(out.getvalue())))
            out.write(stored.astype(dt).reshape(shape, order='F').tobytes(order='F'))
            open(base + '.nii', 'wb').write(out.getvalue())
            with gzip.open(base + '.nii.gz', 'wb') as f:
                f.write(out.getvalue())
            back = nib.load(base + '.nii')
            assert back.header.endianness == ('>' if big else '<') and back.dataobj.slope == slope and back.dataobj.inter == inter
            real = np.asarray(back.get_fdata(dtype=np.float64)).flatten(order='F')
            hu = np.clip(np.sign(real) * np.floor(np.abs(real) + 0.5), -32768, 32767).astype(int)
            print(json.dumps({"hu": hu.tolist(), "real": real.tolist()}))
            """, [dir.file(name), dtype, "\(slope)", "\(inter)", bigEndian ? "1" : "0", extensionText ?? ""])
        // .nii.zst: the .nii bytes, zstd-compressed, as lcovnet writes them.
        let plain = try Data(contentsOf: URL(fileURLWithPath: dir.file(name + ".nii")))
        let writer = try ZstdFileWriter(path: dir.file(name + ".nii.zst"))
        try plain.withUnsafeBytes { try writer.write($0) }
        try writer.finish()
        return try JSONDecoder().decode(Reference.self, from: Data(out.utf8))
    }

    static let cases: [(dtype: String, slope: Double, inter: Double, bigEndian: Bool, ext: String?)] = [
        ("int16", 1, 0, false, nil),  // stored HU, read straight into the volume
        ("int16", 1, -1024, true, "lcovnet"),  // shifted, big-endian, one extension
        ("uint16", 0.5, -1024, false, nil),  // scaled to halves: rounding
        ("float32", 1, 0, true, nil),
        ("int32", 2, 0.25, false, "x")
    ]

    @Test(
        .enabled(if: ReferenceTools.hasPythonModules("nibabel", "numpy"), "needs Debian's python3-nibabel"),
        arguments: cases.indices)
    func hounsfieldMatchesNibabelInEveryContainer(index: Int) throws {
        let c = Self.cases[index]
        let dir = try TemporaryDirectory()
        let reference = try Self.writeWithNibabel(
            dir, name: "scan", dtype: c.dtype, slope: c.slope, inter: c.inter,
            bigEndian: c.bigEndian, extensionText: c.ext)
        for format in NIfTIFormat.allCases {
            let path = dir.file("scan" + format.fileExtension)
            let streamed = try NIfTIFile.readHounsfield(path)
            #expect(streamed.size == Extent3(130, 97, 85), "\(format)")
            #expect(streamed.voxels.map(Int.init) == reference.hu, "\(c.dtype) \(format)")
            // The raw-bytes path agrees with the streaming one.
            let image = try NIfTIFile.read(path)
            #expect(try image.hounsfieldVolume().voxels == streamed.voxels, "\(format)")
            #expect(
                try image.realValues().elementsEqual(reference.real) { abs($0 - $1) <= 1e-9 * max(1, abs($1)) },
                "\(format)")
        }
    }

    @Test(.enabled(if: ReferenceTools.hasPythonModules("nibabel", "numpy"), "needs Debian's python3-nibabel"))
    func labelsRejectNonIntegersNamingTheFile() throws {
        let dir = try TemporaryDirectory()
        _ = try Self.writeWithNibabel(
            dir, name: "half", dtype: "uint16", slope: 0.5, inter: 0, bigEndian: false, extensionText: nil)
        let path = dir.file("half.nii.gz")
        let error = #expect(throws: NIfTIError.self) { try NIfTIFile.readLabels(path) }
        #expect(error?.path == path)
    }

    @Test(arguments: NIfTIFormat.allCases)
    func labelsStreamStraightIn(format: NIfTIFormat) throws {
        let dir = try TemporaryDirectory()
        let geometry = Geometry(
            size: Extent3(64, 50, 40), spacing: [0.8, 0.8, 2], origin: [1, 2, 3], direction: .identity)
        let labels = Volume<UInt8>(geometry: geometry, voxels: (0..<geometry.size.count).map { UInt8($0 * 31 % 17) })
        let path = dir.file("l" + format.fileExtension)
        try NIfTIFile.write(labels, to: path)
        let back = try NIfTIFile.readLabels(path)
        #expect(back.voxels == labels.voxels)
        #expect(back.geometry.isApproximatelyEqual(to: geometry, tolerance: 1e-4))
    }

    @Test(arguments: NIfTIFormat.allCases)
    func truncatedVoxelsAreAnErrorNamingTheFile(format: NIfTIFormat) throws {
        let dir = try TemporaryDirectory()
        let geometry = Geometry(size: Extent3(40, 30, 20), spacing: [1, 1, 1], origin: [0, 0, 0], direction: .identity)
        let scan = Volume<Int16>(geometry: geometry, voxels: (0..<geometry.size.count).map { Int16($0 % 3000 - 1000) })
        // Cut the uncompressed image short, then pack it as the container wants.
        try NIfTIFile.write(scan, to: dir.file("whole.nii"))
        let whole = try Data(contentsOf: URL(fileURLWithPath: dir.file("whole.nii")))
        try whole.prefix(352 + scan.voxels.count).write(to: URL(fileURLWithPath: dir.file("cut.nii")))
        let path = dir.file("t" + format.fileExtension)
        switch format {
        case .nii: try FileManager.default.copyItem(atPath: dir.file("cut.nii"), toPath: path)
        case .niiGz:
            try ReferenceTools.run("gzip", ["-k", dir.file("cut.nii")])
            try FileManager.default.moveItem(atPath: dir.file("cut.nii.gz"), toPath: path)
        case .niiZst:
            let writer = try ZstdFileWriter(path: path)
            try whole.prefix(352 + scan.voxels.count).withUnsafeBytes { try writer.write($0) }
            try writer.finish()
        }
        let error = #expect(throws: NIfTIError.self) { try NIfTIFile.readHounsfield(path) }
        #expect(error?.path == path)
    }
}
