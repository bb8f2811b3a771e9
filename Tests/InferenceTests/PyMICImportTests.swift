import Foundation
import Inference
import TestSupport
import Testing

/// A checkpoint saved by PyMIC (the framework the seed trained its students with) imports
/// through tools/export_checkpoint.py and `lcovnet model import`, and the imported model's
/// logits equal PyMIC's own LCOVNet class on random weights with non-trivial BatchNorm.
@Suite(.serialized) struct PyMICImportTests {
    static let python = ReferenceTools.sourceRoot.appendingPathComponent(".cache/torch-venv/bin/python").path
    static let script = ReferenceTools.sourceRoot.appendingPathComponent("tools/pymic_lcovnet.py").path
    static var hasPyMIC: Bool {
        FileManager.default.isExecutableFile(atPath: python)
            && (try? ReferenceTools.run(python, ["-c", "import pymic.net.net3d.lcovnet"]))?.status == 0
    }
    static let directory = try! TemporaryDirectory("lcovnet-pymic")

    static func run(_ arguments: [String]) throws {
        let result = try ReferenceTools.run(python, [script] + arguments)
        guard result.status == 0 else {
            throw InferenceError("pymic_lcovnet.py \(arguments.first ?? "") failed: \(result.stderr)")
        }
    }

    /// PyMIC's checkpoint, exported and imported once for every window shape.
    static let imported: (checkpoint: String, model: ModelDirectory)? = {
        let checkpoint = directory.file("lcovnet_1000.pt")
        let weights = directory.file("weights.safetensors")
        guard (try? run(["checkpoint", "--seed", "5", "-o", checkpoint])) != nil,
            (try? ReferenceTools.run(
                ReferenceTools.python,
                [
                    ReferenceTools.sourceRoot.appendingPathComponent("tools/export_checkpoint.py").path,
                    checkpoint, "-o", weights
                ]))?.status == 0,
            let model = try? ModelDirectory.importStateDict(weights, into: directory.file("model"))
        else { return nil }
        return (checkpoint, model)
    }()

    @Test(
        .enabled(if: hasPyMIC, "needs .cache/torch-venv with PyMIC (scripts/install-deps.sh)"),
        arguments: [[32, 64, 64], [48, 96, 128], [64, 160, 160]])
    func importedLogitsEqualPyMICs(_ dims: [Int]) throws {
        let (checkpoint, model) = try #require(Self.imported, "the checkpoint did not export or import")
        let (maxDelta, range) = try frameworkParity(model, dims, seed: UInt64(dims[2]), in: Self.directory) {
            input, output in
            try Self.run(["forward", "--checkpoint", checkpoint, "--input", input, "--output", output])
        }
        let shape = try WindowShape(d: dims[0], h: dims[1], w: dims[2])
        print("PyMIC parity \(shape): max |Δlogit| \(maxDelta), logit range \(range)")
        #expect(range > 1, "random weights should give logits spread over more than 1, got \(range)")
        #expect(maxDelta <= 1e-4 * range, "max |Δlogit| \(maxDelta) over logit range \(range) at \(shape)")
    }
}
