import Foundation
import ModelSpec
import NIfTI
import Phantom
import TestSupport
import Testing
import Volumes

@testable import Preprocess

/// A model imported from nnU-Net v1 gets its input prepared as nnU-Net v1 prepares a test case
/// (pip nnunet 1.7.1's GenericPreprocessor, tools/nnunet_v1_reference.py): crop to the non-zero
/// box, cubic resampling with nearest neighbour along an anisotropic axis, z-score or the CT scheme.
@Suite struct NNUNetV1PreparationTests {
    static let python = ReferenceTools.sourceRoot.appendingPathComponent(".cache/torch-venv/bin/python").path
    static var hasNNUNet: Bool {
        FileManager.default.isExecutableFile(atPath: python)
            && (try? ReferenceTools.run(python, ["-c", "import nnunet.preprocessing.preprocessing"]))?.status == 0
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var spacing: SIMD3<Double>
        var target: SIMD3<Double>
        var normalization: InputPreparation.Normalization
        var testDescription: String { name }
    }

    static let cases = [
        // Thin in-plane, thick slices: the scan is anisotropic, so slices are resampled in plane
        // (cubic) and the slice axis by nearest neighbour.
        Case(
            name: "anisotropic scan, z-score", spacing: [0.7, 0.74, 2.5], target: [0.977, 0.977, 3],
            normalization: .zScore),
        // Near-isotropic scan and target: cubic along all three axes, clipped to the input's range.
        Case(
            name: "isotropic, CT scheme", spacing: [1.2, 1.1, 1.5], target: [1.6, 1.6, 1.7],
            normalization: .clipZScore(min: -958, max: 327, mean: 82.5, sd: 136.1)),
        // Isotropic scan, anisotropic target (the seed's 3 × 0.977 × 0.977 on a 3 mm scan).
        Case(name: "anisotropic target", spacing: [3, 3, 3], target: [0.977, 0.977, 3], normalization: .zScore)
    ]

    @Test(
        .enabled(if: hasNNUNet, "needs .cache/torch-venv with nnunet 1.7.1 (scripts/install-deps.sh)"), arguments: cases
    )
    func preparedAsNNUNetV1Does(_ c: Case) throws {
        let dir = try TemporaryDirectory("lcovnet-nnunet-prep")
        let phantom = PhantomGenerator.generate(PhantomOptions(seed: 11, matrix: 96, sliceSpacing: 5)).image
        var geometry = phantom.geometry
        geometry.spacing = c.spacing
        // A border of exact zeros (a scanner's padding) for the non-zero crop to remove.
        var voxels = phantom.voxels
        let n = geometry.size
        for k in 0..<n.k {
            for j in 0..<n.j { for i in 0..<n.i where i < 5 || j >= n.j - 3 { voxels[i + n.i * (j + n.j * k)] = 0 } }
        }
        let scan = Volume(geometry: geometry, voxels: voxels)
        let image = dir.file("scan.nii.gz")
        try NIfTIFile.write(scan, to: image)

        let spec = InputPreparation(
            orientation: nil, resample: .nnUNetV1(spacing: c.target, anisotropyThreshold: 3),
            normalization: c.normalization, bodyCrop: nil, cropToNonzero: true)
        try Self.expectPreparedAsNNUNetV1Does(image, spec, name: c.name, in: dir)
    }

    /// The seed's plans (3 × 0.977 × 0.977 mm, z-score) on TotalSegmentator's example CT, where
    /// scripts/fetch-real-validation.sh has put it.
    static let realScan =
        (ProcessInfo.processInfo.environment["LCOVNET_VALIDATION_DIR"]
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/lcovnet/real-validation")
            .path) + "/example_ct.nii.gz"

    @Test(
        .enabled(
            if: hasNNUNet && FileManager.default.fileExists(atPath: realScan),
            "needs nnunet 1.7.1 and scripts/fetch-real-validation.sh"))
    func realScanPreparedAsNNUNetV1Does() throws {
        let spec = InputPreparation(
            orientation: nil, resample: .nnUNetV1(spacing: [0.977, 0.977, 3], anisotropyThreshold: 3),
            normalization: .zScore, bodyCrop: nil, cropToNonzero: true)
        try Self.expectPreparedAsNNUNetV1Does(
            Self.realScan, spec, name: "TotalSegmentator's example CT",
            in: try TemporaryDirectory("lcovnet-nnunet-real"))
    }

    static func expectPreparedAsNNUNetV1Does(
        _ image: String, _ spec: InputPreparation, name: String, in dir: TemporaryDirectory
    ) throws {
        let specFile = dir.file("preparation.json")
        try JSONEncoder().encode(["input": spec]).write(to: URL(fileURLWithPath: specFile))
        let expectedFile = dir.file("expected.f32")
        let result = try ReferenceTools.run(
            python,
            [
                ReferenceTools.sourceRoot.appendingPathComponent("tools/nnunet_v1_reference.py").path,
                "preprocess", image, "--preparation", specFile, "-o", expectedFile
            ])
        try #require(result.status == 0, "nnunet_v1_reference.py: \(result.stderr)")
        struct Reference: Decodable {
            var crop_bbox: [[Int]]
            var shape: [Int]
        }
        let reference = try JSONDecoder().decode(
            Reference.self, from: Data(result.stdout.split(separator: "\n").last!.utf8))
        let expected = try Data(contentsOf: URL(fileURLWithPath: expectedFile)).withUnsafeBytes {
            Array($0.bindMemory(to: Float.self))
        }

        let reread = try NIfTIFile.readHounsfield(image)
        let prepared = try Preparation.prepare(reread, as: spec, threads: 2)
        let size = prepared.volume.geometry.size
        #expect(prepared.record.crop.lower == reference.crop_bbox.map { $0[0] }.reversed())
        #expect(prepared.record.crop.upper == reference.crop_bbox.map { $0[1] }.reversed())
        #expect([size.k, size.j, size.i] == reference.shape)
        try #require(prepared.volume.voxels.count == expected.count)
        var maxDelta: Float = 0
        for (a, b) in zip(prepared.volume.voxels, expected) { maxDelta = max(maxDelta, abs(a - b)) }
        let range = (expected.max() ?? 0) - (expected.min() ?? 0)
        print(
            "nnU-Net v1 preparation, \(name): \(reread.geometry.size) at \(reread.geometry.spacing) → \(size), max |Δ| \(maxDelta) over a range of \(range)"
        )
        #expect(maxDelta <= 1e-4 * range, "\(name): max |Δ| \(maxDelta) over a range of \(range)")
    }
}
