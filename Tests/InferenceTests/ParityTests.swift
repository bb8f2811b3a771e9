import Foundation
import Inference
import TestSupport
import Testing

/// fp32 engine against the PyTorch restatement of LCOV-Net, on random weights whose BatchNorm
/// statistics are far from identity (so folding errors show).
@Suite(
    .serialized, .enabled(if: PyTorchReference.hasTorch, "needs /usr/bin/python3 with torch and numpy (python3-torch)"))
struct ParityTests {
    static let directory = try! TemporaryDirectory("lcovnet-parity")

    @Test(arguments: [[32, 64, 64], [48, 96, 128], [64, 160, 160]])
    func fp32LogitsEqualPyTorch(_ dims: [Int]) throws {
        let shape = try WindowShape(d: dims[0], h: dims[1], w: dims[2])
        let weights = try PyTorchReference.randomWeights(seed: 7, in: Self.directory)
        let model = try ModelDirectory.importStateDict(weights, into: Self.directory.file("model"))
        let window = testWindow(shape, seed: UInt64(dims[1]))
        let expected = try PyTorchReference.logits(weights: weights, window: window, shape: shape, in: Self.directory)

        let (maxDelta, range) = try fp32Parity(model, shape: shape, window: window, expected: expected)
        print("parity \(shape): max |Δlogit| \(maxDelta), logit range \(range), ratio \(maxDelta / range)")
        #expect(range > 1, "random weights should give logits spread over more than 1, got \(range)")
        #expect(maxDelta <= 1e-4 * range, "max |Δlogit| \(maxDelta) over logit range \(range) at \(shape)")
    }
}
