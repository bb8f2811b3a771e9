import Foundation
import TestSupport
import Testing
import Volumes

@testable import NIfTI

@Suite struct NIfTIFileTests {
    static let geometry = Geometry(
        size: Extent3(5, 4, 3), spacing: [0.75, 0.8, 2.5], origin: [120.5, -80.25, 33],
        direction: Matrix3(columns: [0.98, 0.199, 0], [-0.199, 0.98, 0], [0, 0, 1]).orthonormalized)

    static func sampleVolume() -> Volume<Int16> {
        var v = Volume<Int16>(geometry: geometry, repeating: 0)
        for n in v.voxels.indices { v.voxels[n] = Int16(n * 37 % 2000 - 1024) }
        return v
    }

    @Test(arguments: NIfTIFormat.allCases)
    func roundTripKeepsVoxelsAndGeometry(format: NIfTIFormat) throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("scan" + format.fileExtension)
        let volume = Self.sampleVolume()
        try NIfTIFile.write(volume, to: path)
        let image = try NIfTIFile.read(path)
        #expect(image.qformCode == 1 && image.sformCode == 1)
        let back = try image.hounsfieldVolume()
        #expect(back.voxels == volume.voxels)
        #expect(back.geometry.isApproximatelyEqual(to: volume.geometry, tolerance: 1e-4))
    }

    @Test func zstdFileHoldsTheSameBytesAsPlainNii() throws {
        let dir = try TemporaryDirectory()
        let volume = Self.sampleVolume()
        try NIfTIFile.write(volume, to: dir.file("a.nii"))
        try NIfTIFile.write(volume, to: dir.file("a.nii.zst"))
        let plain = try Data(contentsOf: URL(fileURLWithPath: dir.file("a.nii")))
        let unpacked = try ZstdFile.decompress(dir.file("a.nii.zst"))
        #expect(Data(unpacked) == plain)
        #expect(plain.count == 352 + volume.voxels.count * 2)
    }

    @Test func labelsKeepTheirType() throws {
        let dir = try TemporaryDirectory()
        let labels = Volume<UInt8>(geometry: Self.geometry, voxels: (0..<60).map { UInt8($0 % 17) })
        try NIfTIFile.write(labels, to: dir.file("l.nii.gz"))
        let image = try NIfTIFile.read(dir.file("l.nii.gz"))
        #expect(image.datatype == 2)
        #expect(try image.labelVolume().voxels == labels.voxels)
    }

    @Test func truncatedZstdIsAnErrorNamingTheFile() throws {
        let dir = try TemporaryDirectory()
        try NIfTIFile.write(Self.sampleVolume(), to: dir.file("t.nii.zst"))
        let data = try Data(contentsOf: URL(fileURLWithPath: dir.file("t.nii.zst")))
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: dir.file("t.nii.zst")))
        #expect(throws: NIfTIError.self) { try NIfTIFile.read(dir.file("t.nii.zst")) }
    }

    @Test func randomBytesAreRejected() throws {
        let dir = try TemporaryDirectory()
        try Data((0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 7919) }).write(
            to: URL(fileURLWithPath: dir.file("r.nii")))
        let error = #expect(throws: NIfTIError.self) { try NIfTIFile.read(dir.file("r.nii")) }
        #expect(error?.path == dir.file("r.nii"))
        #expect(error?.reason.contains("sizeof_hdr") == true)
    }

    /// A header nifticlib would refuse is refused before nifticlib parses it (which prints
    /// "** ERROR" lines on stderr whatever its debug level), with the reason.
    @Test func aBadDimensionCountIsNamed() throws {
        let dir = try TemporaryDirectory()
        var header = [UInt8](repeating: 0, count: 352 + 64)
        header[0] = 0x5C
        header[1] = 0x01  // sizeof_hdr 348, little-endian
        for (n, d) in [9, 4, 4, 4, 1, 1, 1, 1].enumerated() { header[40 + 2 * n] = UInt8(d) }  // dim[0] = 9
        header[344] = UInt8(ascii: "n")
        header[345] = UInt8(ascii: "+")
        header[346] = UInt8(ascii: "1")
        try Data(header).write(to: URL(fileURLWithPath: dir.file("d.nii")))
        let error = #expect(throws: NIfTIError.self) { try NIfTIFile.read(dir.file("d.nii")) }
        #expect(error?.reason.contains("dim[0]") == true)
    }

    @Test(.enabled(if: ReferenceTools.hasPythonModules("nibabel"), "needs Debian's python3-nibabel"))
    func nibabelReadsTheSameAffineAndVoxels() throws {
        let dir = try TemporaryDirectory()
        let volume = Self.sampleVolume()
        try NIfTIFile.write(volume, to: dir.file("n.nii.gz"))
        let out = try ReferenceTools.python(
            """
            import sys, json, nibabel as nib, numpy as np
            img = nib.load(sys.argv[1])
            data = np.asanyarray(img.dataobj)
            print(json.dumps({"affine": img.affine.tolist(), "qform": img.get_qform().tolist(),
                              "codes": [int(img.header['qform_code']), int(img.header['sform_code'])],
                              "voxels": data.flatten(order='F').astype(int).tolist(), "dtype": str(data.dtype)}))
            """, [dir.file("n.nii.gz")])
        struct Answer: Decodable {
            var affine: [[Double]]
            var qform: [[Double]]
            var codes: [Int]
            var voxels: [Int]
            var dtype: String
        }
        let answer = try JSONDecoder().decode(Answer.self, from: Data(out.utf8))
        #expect(answer.codes == [1, 1])
        #expect(answer.dtype == "int16")
        #expect(answer.voxels == volume.voxels.map(Int.init))
        let expected = volume.geometry.affineRAS
        for r in 0..<4 {
            for c in 0..<4 {
                #expect(abs(answer.affine[r][c] - expected[r][c]) < 1e-3)
                #expect(abs(answer.qform[r][c] - expected[r][c]) < 1e-3)
            }
        }
    }
}

extension Matrix3 {
    /// Gram-Schmidt, so that test directions are exact rotations.
    var orthonormalized: Matrix3 {
        let a = normalize(self[0])
        let b = normalize(self[1] - dot(self[1], a) * a)
        return Matrix3(columns: a, b, cross(a, b))
    }
}
