import Foundation
import Inference
import ModelSpec
import TestSupport
import Testing

/// A checkpoint saved as nnU-Net v1's trainer saves one (the seed's nnUNetTrainerV2_LCOV student:
/// `state_dict` with DataParallel's prefix, the plans pickled beside it) imports through
/// tools/export_nnunet_v1.py and `model import --preparation`: the manifest states nnU-Net's
/// preparation (its spacing, CT scheme, non-zero crop and patch), and the logits equal the
/// framework-side class on the same weights.
@Suite(.serialized) struct NNUNetV1ImportTests {
    static let python = ReferenceTools.sourceRoot.appendingPathComponent(".cache/torch-venv/bin/python").path
    static func tool(_ name: String) -> String {
        ReferenceTools.sourceRoot.appendingPathComponent("tools/\(name)").path
    }
    static var hasReferences: Bool {
        FileManager.default.isExecutableFile(atPath: python)
            && (try? ReferenceTools.run(python, ["-c", "import pymic.net.net3d.lcovnet"]))?.status == 0
    }
    static let directory = try! TemporaryDirectory("lcovnet-nnunet-import")

    static let imported: Result<(checkpoint: String, model: ModelDirectory), any Error> = Result {
        let checkpoint = directory.file("model_final_checkpoint.model")
        let exported = directory.file("exported")
        for (tool, arguments, interpreter) in [
            ("nnunet_v1_reference.py", ["checkpoint", "--seed", "9", "--scheme", "CT", "-o", checkpoint], python),
            ("export_nnunet_v1.py", [checkpoint, "-o", exported], ReferenceTools.python)
        ] {
            let r = try ReferenceTools.run(interpreter, [Self.tool(tool)] + arguments)
            guard r.status == 0 else { throw InferenceError("\(tool) failed: \(r.stderr)") }
        }
        let trained = try TrainedPreparation.read(exported + "/preparation.json")
        let model = try ModelDirectory.importStateDict(
            exported + "/weights.safetensors", into: directory.file("model"),
            input: trained.input, window: trained.window, notes: trained.notes)
        return (checkpoint, model)
    }

    @Test(.enabled(if: hasReferences, "needs .cache/torch-venv with PyMIC (scripts/install-deps.sh)"))
    func theManifestStatesNNUNetsPreparation() throws {
        let manifest = try Self.imported.get().model.manifest
        #expect(
            manifest.input
                == InputPreparation(
                    orientation: nil, resample: .nnUNetV1(spacing: [0.9765625, 0.9765625, 3], anisotropyThreshold: 3),
                    normalization: .clipZScore(min: -167, max: 241, mean: 54.3, sd: 83.1),
                    bodyCrop: nil, cropToNonzero: true))
        #expect(manifest.window == [64, 160, 160])
        #expect(manifest.provenance.notes.contains { $0.contains("nnUNetTrainerV2_LCOV") })
        // The directory reads back as written (the new modes survive the manifest's round trip).
        #expect(try ModelDirectory(path: Self.directory.file("model")).manifest == manifest)
    }

    @Test(
        .enabled(if: hasReferences, "needs .cache/torch-venv with PyMIC (scripts/install-deps.sh)"),
        arguments: [[32, 64, 64], [64, 96, 128], [64, 160, 160]])
    func importedLogitsEqualTheFrameworks(_ dims: [Int]) throws {
        let (checkpoint, model) = try Self.imported.get()
        let (maxDelta, range) = try frameworkParity(model, dims, seed: UInt64(dims[1] + dims[2]), in: Self.directory) {
            input, output in
            let r = try ReferenceTools.run(
                Self.python,
                [
                    Self.tool("pymic_lcovnet.py"), "forward", "--checkpoint", checkpoint, "--input", input, "--output",
                    output
                ])
            guard r.status == 0 else { throw InferenceError("pymic_lcovnet.py forward: \(r.stderr)") }
        }
        let shape = try WindowShape(d: dims[0], h: dims[1], w: dims[2])
        print("nnU-Net v1 import parity \(shape): max |Δlogit| \(maxDelta), logit range \(range)")
        #expect(range > 1, "random weights should give logits spread over more than 1, got \(range)")
        #expect(maxDelta <= 1e-4 * range, "max |Δlogit| \(maxDelta) over logit range \(range) at \(shape)")
    }
}
