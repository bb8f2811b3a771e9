import Foundation
import ModelSpec
import TestSupport
import Testing

@testable import Inference

struct ModelFilesTests {
    @Test func safetensorsRoundTrip() throws {
        let dir = try TemporaryDirectory()
        let original = SafeTensors(
            tensors: [
                "a.weight": .init(shape: [2, 3], values: [1, -2, 3.5, 0, 1e-7, -1e9]),
                "b": .init(shape: [4], values: [Int8(-128), 0, 1, 127])
            ],
            metadata: ["source": "test"])
        try original.write(to: dir.file("t.safetensors"))
        let read = try SafeTensors(contentsOf: dir.file("t.safetensors"))
        #expect(read.metadata == ["source": "test"])
        #expect(read.tensors["a.weight"]?.shape == [2, 3])
        #expect(try read.tensors["a.weight"]?.floats() == [1, -2, 3.5, 0, 1e-7, -1e9])
        #expect(try read.tensors["b"]?.floats() == [-128, 0, 1, 127])
    }

    /// A teacher ships as fp16: values round to F16's 11 significant bits; beyond its range is an error.
    @Test func halvedTensorsKeepElevenBits() throws {
        let values: [Float] = [1, -2, 3.14159, 0.001234, 60000, -1e-3]
        let half = try SafeTensors.Tensor(shape: [6], values: values).halved(name: "w")
        #expect(half.dtype == "F16" && half.bytes.count == 12)
        for (h, v) in zip(try half.floats(), values) { #expect(abs(h - v) <= abs(v) / 2048) }
        #expect(try SafeTensors.Tensor(shape: [2], values: [Int8(1), 2]).halved(name: "i").dtype == "I8")
        #expect(throws: InferenceError.self) {
            try SafeTensors.Tensor(shape: [1], values: [Float(70000)]).halved(name: "big")
        }
    }

    @Test func npyRoundTripThroughNumPy() throws {
        try #require(ReferenceTools.hasPythonModules("numpy"), "numpy is needed")
        let dir = try TemporaryDirectory()
        let values: [Float] = (0..<24).map { Float($0) * 0.5 - 3 }
        try values.withUnsafeBufferPointer { try NPYFile.write(dir.file("a.npy"), shape: [2, 3, 4], values: $0) }
        let sum = try ReferenceTools.python(
            "import numpy as np, sys; a = np.load(sys.argv[1]); print(a.shape, a.dtype, float(a[1, 2, 3]), float(a.sum()))",
            [dir.file("a.npy")])
        #expect(sum.trimmingCharacters(in: .whitespacesAndNewlines) == "(2, 3, 4) float32 8.5 66.0")
        _ = try ReferenceTools.python(
            "import numpy as np, sys; np.save(sys.argv[1], np.arange(6, dtype=np.float32).reshape(1, 2, 3))",
            [dir.file("b.npy")])
        let (shape, read) = try NPYFile.read(dir.file("b.npy"))
        #expect(shape == [1, 2, 3])
        #expect(read == [0, 1, 2, 3, 4, 5])
    }

    @Test func windowShapesMustBeMultiplesOf16() {
        #expect(throws: InferenceError.self) { try WindowShape(d: 16, h: 64, w: 64) }
        #expect(throws: InferenceError.self) { try WindowShape(d: 40, h: 64, w: 64) }
        #expect((try? WindowShape(d: 32, h: 48, w: 160)) != nil)
    }

    @Test(.enabled(if: PyTorchReference.hasTorch, "needs /usr/bin/python3 with torch"))
    func importAcceptsEitherUpKeyAndWritesAManifest() throws {
        let dir = try TemporaryDirectory()
        let weights = try PyTorchReference.randomWeights(seed: 3, in: dir)
        let full = try SafeTensors(contentsOf: weights)
        #expect(
            full.tensors["up1.conv.0.weight"] != nil && full.tensors["up1.conv1.0.weight"] != nil,
            "the reference registers Up twice")

        // Only the conv1 copies, as some exports keep.
        var onlyConv1 = full
        for key in full.tensors.keys where key.hasPrefix("up") && key.contains(".conv.") {
            onlyConv1.tensors[key] = nil
        }
        try onlyConv1.write(to: dir.file("conv1-only.safetensors"))
        let a = try ModelDirectory.importStateDict(weights, into: dir.file("a"))
        let b = try ModelDirectory.importStateDict(dir.file("conv1-only.safetensors"), into: dir.file("b"))
        #expect(a.weights.tensors.keys.sorted() == b.weights.tensors.keys.sorted())
        #expect(
            a.weights.tensors["up2.conv.1.running_var"]?.bytes == b.weights.tensors["up2.conv.1.running_var"]?.bytes)

        let reread = try ModelDirectory(path: dir.file("a"))
        #expect(reread.manifest.classes == OrganClass.word)
        #expect(reread.manifest.input == .officialCheckpoint)
        #expect(reread.manifest.precision == .fp32)
        #expect(reread.manifest.window == [64, 160, 160])
        #expect(reread.manifest.provenance.sourceSHA256?.count == 64)

        var missing = full
        missing.tensors["Decode_block3.conv2_1.1.running_mean"] = nil
        try missing.write(to: dir.file("missing.safetensors"))
        let error = #expect(throws: InferenceError.self) {
            try ModelDirectory.importStateDict(dir.file("missing.safetensors"), into: dir.file("c"))
        }
        #expect(
            error?.message.contains("missing.safetensors") == true
                && error?.message.contains("Decode_block3.conv2_1.1.running_mean") == true)
    }

    @Test func sha256MatchesKnownDigests() throws {
        #expect(SHA256.hex(of: Data("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(
            SHA256.hex(of: Data(repeating: 0x61, count: 1000))
                == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
        // A file read in several pieces, against coreutils' sha256sum.
        let dir = try TemporaryDirectory("sha")
        try Data((0..<(3 << 20) + 12_345).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) }).write(
            to: URL(fileURLWithPath: dir.file("f")))
        let reference = try ReferenceTools.run("sha256sum", [dir.file("f")]).stdout.prefix(64)
        #expect(try SHA256.hex(ofFile: dir.file("f")) == String(reference))
    }
}
