import Foundation
import NIfTI
import TestSupport
import Testing
import Volumes

@testable import Preprocess

@Suite struct ReorientationTests {
    static let oblique = Geometry(
        size: Extent3(9, 7, 5), spacing: [0.7, 0.8, 2.5], origin: [-40, 25, 110],
        direction: rotation(zDegrees: 15, xDegrees: -10) * Matrix3(columns: [1, 0, 0], [0, -1, 0], [0, 0, 1]))

    static func numbered(_ g: Geometry) -> Volume<Int16> {
        Volume(geometry: g, voxels: (0..<g.size.count).map { Int16($0) })
    }

    @Test(arguments: ["LAS", "RAS", "LPS", "PIR", "SLA", "IRP"])
    func everyVoxelKeepsItsPlaceInThePatient(code: String) throws {
        let source = Self.numbered(Self.oblique)
        let r = try Reorientation(from: source.geometry, to: code)
        let out = r.apply(source, threads: 2)
        #expect(out.geometry.orientationCode == code)
        for k in 0..<out.size.k {
            for j in 0..<out.size.j {
                for i in 0..<out.size.i {
                    let v = Int(out[i, j, k])
                    let s = SIMD3(Double(v % 9), Double((v / 9) % 7), Double(v / 63))
                    #expect(
                        length(
                            out.geometry.point(atIndex: [Double(i), Double(j), Double(k)])
                                - source.geometry.point(atIndex: s)) < 1e-9)
                }
            }
        }
        let back = try Reorientation(from: out.geometry, to: source.geometry.orientationCode).apply(out)
        #expect(back.voxels == source.voxels)
        #expect(back.geometry.isApproximatelyEqual(to: source.geometry, tolerance: 1e-9))
    }

    @Test(
        .enabled(if: ReferenceIO.hasNumericPython, "needs python3 with numpy, scipy and nibabel"),
        arguments: ["RAS", "LPS", "PIR"])
    func matchesNibabelAsReoriented(code: String) throws {
        let dir = try TemporaryDirectory()
        let source = Self.numbered(Self.oblique)
        try NIfTIFile.write(source, to: dir.file("in.nii"))
        let script = """
            import sys, numpy as np, nibabel as nib
            from nibabel.orientations import io_orientation, axcodes2ornt, ornt_transform
            img = nib.load(sys.argv[1])
            out = img.as_reoriented(ornt_transform(io_orientation(img.affine), axcodes2ornt(tuple(sys.argv[2]))))
            np.asarray(out.dataobj).astype('<i2').ravel(order='F').tofile(sys.argv[3])
            print(' '.join(str(n) for n in out.shape))
            print(' '.join(repr(float(x)) for x in out.affine.ravel()))
            """
        let lines = try ReferenceTools.python(script, [dir.file("in.nii"), code, dir.file("out.raw")]).split(
            separator: "\n")
        let shape = lines[0].split(separator: " ").map { Int($0)! }
        let affine = lines[1].split(separator: " ").map { Double($0)! }
        let ours = try Reorientation(from: source.geometry, to: code).apply(source)
        #expect(shape == [ours.size.i, ours.size.j, ours.size.k])
        #expect(try ReferenceIO.readRaw(Int16.self, from: dir.file("out.raw")) == ours.voxels)
        let ras = ours.geometry.affineRAS.flatMap { $0 }
        #expect(zip(ras, affine).allSatisfy { abs($0 - $1) < 1e-3 }, "ours \(ras) nibabel \(affine)")
    }

    @Test func badCodesAreRefusedInWords() {
        #expect(throws: PreprocessError.self) { try Reorientation(from: Self.oblique, to: "LLS") }
        #expect(throws: PreprocessError.self) { try Reorientation(from: Self.oblique, to: "LP") }
    }
}
