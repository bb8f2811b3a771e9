import Foundation
import Ingest
import NIfTI
import PhantomDicom
import TestSupport
import Volumes

/// Volumes and reference checks shared by the ingest tests.
enum IngestFixtures {
    /// `volume` written as a DICOM series (explicit little endian unless configured) into a fresh
    /// temporary folder named after `label`.
    static func series(
        _ volume: Volume<Int16>, _ label: String,
        _ configure: (inout DicomWriterOptions) -> Void = { _ in }
    ) throws -> TemporaryDirectory {
        let directory = try TemporaryDirectory(label)
        var options = DicomWriterOptions()
        configure(&options)
        try DicomSeriesWriter(options).write(volume, to: directory.path)
        return directory
    }

    /// A 64×48×20 volume whose voxels are all different-looking (a hash of i, j, k in
    /// −1024…2975 HU), so any flip, shift or reordering shows. Axial, LAS like dcm2niix's output.
    static func volume(
        size: Extent3 = Extent3(64, 48, 20), direction: Matrix3? = nil,
        spacing: SIMD3<Double> = [0.8, 0.7, 2.5]
    ) -> Volume<Int16> {
        let las = Matrix3(columns: [1, 0, 0], [0, -1, 0], [0, 0, 1])  // LPS: i→L, j→A, k→S
        let geometry = Geometry(size: size, spacing: spacing, origin: [-30, 20, -100], direction: direction ?? las)
        var voxels = [Int16](repeating: 0, count: size.count)
        for k in 0..<size.k {
            for j in 0..<size.j {
                for i in 0..<size.i {
                    let h = (i &* 73_856_093) ^ (j &* 19_349_663) ^ (k &* 83_492_791)
                    voxels[i + size.i * (j + size.j * k)] = Int16(h % 4000 - 1024)
                }
            }
        }
        return Volume(geometry: geometry, voxels: voxels)
    }

    /// The same volume rotated: an oblique stack (20° about S, then 10° about L).
    static func obliqueVolume() -> Volume<Int16> {
        let a = 20.0 * .pi / 180
        let b = 10.0 * .pi / 180
        let rz = Matrix3(columns: [cos(a), sin(a), 0], [-sin(a), cos(a), 0], [0, 0, 1])
        let rx = Matrix3(columns: [1, 0, 0], [0, cos(b), sin(b)], [0, -sin(b), cos(b)])
        let las = Matrix3(columns: [1, 0, 0], [0, -1, 0], [0, 0, 1])
        return volume(direction: rz * rx * las)
    }

    static var hasNibabel: Bool { ReferenceTools.hasPythonModules("nibabel", "numpy") }
    static var hasDcm2niix: Bool { ReferenceTools.hasExecutable("dcm2niix") && hasNibabel }

    /// Runs dcm2niix on `folder`; returns the NIfTI files it wrote, by name.
    static func dcm2niix(_ folder: String, into output: String) throws -> [String: String] {
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        _ = try ReferenceTools.run("dcm2niix", ["-f", "ref", "-z", "n", "-o", output, folder])
        let names = try FileManager.default.contentsOfDirectory(atPath: output).filter { $0.hasSuffix(".nii") }
        return Dictionary(uniqueKeysWithValues: names.map { ($0, "\(output)/\($0)") })
    }

    /// How two NIfTI files compare after nibabel's scaling (dcm2niix stores raw values with
    /// scl_inter): shapes, the largest voxel difference, how many voxels differ, and the largest
    /// affine difference in mm.
    struct Comparison: Decodable {
        var sameShape: Bool
        var maxDifference: Double
        var differing: Int
        var affineDifference: Double
    }

    static func compare(_ a: String, _ b: String) throws -> Comparison {
        let script = """
            import json, sys, nibabel as nib, numpy as np
            a, b = nib.load(sys.argv[1]), nib.load(sys.argv[2])
            A, B = np.asarray(a.get_fdata()), np.asarray(b.get_fdata())
            same = A.shape == B.shape
            d = np.abs(A - B) if same else np.array([-1.0])
            print(json.dumps({"sameShape": same, "maxDifference": float(d.max()), "differing": int((d > 0).sum()),
                              "affineDifference": float(np.abs(a.affine - b.affine).max())}))
            """
        let output = try ReferenceTools.python(script, [a, b])
        return try JSONDecoder().decode(Comparison.self, from: Data(output.utf8))
    }

    /// Writes `volume` as a series, converts it with the library (what `convert` does), and
    /// returns the NIfTI path.
    @discardableResult
    static func convert(_ folder: String, to path: String, policy: IngestPolicy = IngestPolicy()) throws -> LoadedSeries
    {
        let series = try DicomFolder.loadSeries(in: folder, policy: policy)
        try NIfTIFile.write(series.volume, to: path)
        return series
    }

    /// The built `lcovnet` executable beside the test bundle.
    static var executable: String? {
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        for _ in 0..<6 {
            url.deleteLastPathComponent()
            let candidate = url.appendingPathComponent("lcovnet").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        let fallback = FileManager.default.currentDirectoryPath + "/.build/debug/lcovnet"
        return FileManager.default.isExecutableFile(atPath: fallback) ? fallback : nil
    }
}
