import Foundation
import Inference
import TestSupport

/// tools/lcovnet_reference.py, run with Debian's python3 (which has torch).
enum PyTorchReference {
    static let hasTorch = ReferenceTools.hasPythonModules("torch", "numpy")

    static let script: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.appendingPathComponent("tools/lcovnet_reference.py").path
    }()

    static func run(_ arguments: [String]) throws {
        let result = try ReferenceTools.run(ReferenceTools.python, [script] + arguments)
        guard result.status == 0 else {
            throw InferenceError("lcovnet_reference.py \(arguments.first ?? "") failed: \(result.stderr)")
        }
    }

    /// Random LCOV-Net weights with non-trivial BatchNorm statistics, as a state_dict in safetensors.
    static func randomWeights(seed: Int, in directory: TemporaryDirectory) throws -> String {
        let path = directory.file("random-\(seed).safetensors")
        if !FileManager.default.fileExists(atPath: path) { try run(["random", "--seed", "\(seed)", "-o", path]) }
        return path
    }

    /// PyTorch's logits for a window written by our NPY writer.
    static func logits(weights: String, window: [Float], shape: WindowShape, in directory: TemporaryDirectory) throws
        -> [Float]
    {
        let input = directory.file("window-\(shape.d)x\(shape.h)x\(shape.w).npy")
        let output = directory.file("torch-logits-\(shape.d)x\(shape.h)x\(shape.w).npy")
        try window.withUnsafeBufferPointer {
            try NPYFile.write(input, shape: [1, 1, shape.d, shape.h, shape.w], values: $0)
        }
        try run(["forward", "--weights", weights, "--input", input, "--output", output, "--threads", "2"])
        let (outShape, values) = try NPYFile.read(output)
        guard outShape == [1, 17, shape.d, shape.h, shape.w] else {
            throw InferenceError("torch logits have shape \(outShape)")
        }
        return values
    }
}

/// How far our fp32 engine's logits for `window` lie from a reference's: the largest difference
/// and the reference's logit range (parity is judged as one against the other).
func fp32Parity(_ model: ModelDirectory, shape: WindowShape, window: [Float], expected: [Float]) throws -> (
    maxDelta: Float, range: Float
) {
    let engine = try LCOVNetEngine(model: model, precision: .fp32, threads: 2, window: shape)
    var logits = [Float](repeating: .nan, count: 17 * shape.voxelCount)
    try window.withUnsafeBufferPointer { x in
        try logits.withUnsafeMutableBufferPointer { try engine.predict(window: x, into: $0) }
    }
    var maxDelta: Float = 0
    for i in expected.indices { maxDelta = max(maxDelta, abs(logits[i] - expected[i])) }
    return (maxDelta, expected.max()! - expected.min()!)
}

/// Our fp32 logits against a framework's on a test window: `reference(input, output)` runs the
/// framework on the window written as .npy to `input` and leaves its logits in `output`.
func frameworkParity(
    _ model: ModelDirectory, _ dims: [Int], seed: UInt64, in directory: TemporaryDirectory,
    reference: (_ input: String, _ output: String) throws -> Void
) throws -> (maxDelta: Float, range: Float) {
    let shape = try WindowShape(d: dims[0], h: dims[1], w: dims[2])
    let window = testWindow(shape, seed: seed)
    let input = directory.file("x-\(dims.map(String.init).joined(separator: "x")).npy")
    let output = directory.file("y-\(dims.map(String.init).joined(separator: "x")).npy")
    try window.withUnsafeBufferPointer {
        try NPYFile.write(input, shape: [1, 1, shape.d, shape.h, shape.w], values: $0)
    }
    try reference(input, output)
    let (outShape, expected) = try NPYFile.read(output)
    guard outShape == [1, 17, shape.d, shape.h, shape.w] else {
        throw InferenceError("reference logits of shape \(outShape) for window \(shape)")
    }
    return try fp32Parity(model, shape: shape, window: window, expected: expected)
}

/// Deterministic test windows: smooth structure plus noise, roughly z-scored like real input.
func testWindow(_ shape: WindowShape, seed: UInt64) -> [Float] {
    var state = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
    func uniform() -> Float {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Float(state >> 40) / Float(1 << 24)
    }
    var values = [Float](repeating: 0, count: shape.voxelCount)
    var i = 0
    for z in 0..<shape.d {
        for y in 0..<shape.h {
            for x in 0..<shape.w {
                let smooth = sinf(Float(z) * 0.21) * cosf(Float(y) * 0.13) + sinf(Float(x) * 0.09 + Float(y) * 0.05)
                values[i] = smooth + (uniform() - 0.5) * 0.8
                i += 1
            }
        }
    }
    return values
}
