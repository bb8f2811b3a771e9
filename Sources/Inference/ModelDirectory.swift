import Foundation
import ModelSpec

/// A model on disk: `manifest.json` plus the fp32 weights in safetensors with canonical key names.
public struct ModelDirectory: Sendable {
    public var path: String
    public var manifest: ModelManifest
    public var weights: SafeTensors

    public static let manifestName = "manifest.json"

    public init(path: String) throws {
        self.path = path
        let manifestPath = "\(path)/\(Self.manifestName)"
        guard let data = FileManager.default.contents(atPath: manifestPath) else {
            throw InferenceError("\(manifestPath): cannot read (is \(path) a model directory?)")
        }
        do { manifest = try JSONDecoder().decode(ModelManifest.self, from: data) } catch {
            throw InferenceError("\(manifestPath): invalid manifest (\(error))")
        }
        guard manifest.format == "lcovnet-model", manifest.formatVersion <= ModelManifest.formatVersion else {
            throw InferenceError(
                "\(manifestPath): format \(manifest.format) v\(manifest.formatVersion) is not one this lcovnet reads")
        }
        weights = try SafeTensors(contentsOf: "\(path)/\(manifest.weights)")
        try Self.validate(weights, source: "\(path)/\(manifest.weights)")
    }

    public init(path: String, manifest: ModelManifest, weights: SafeTensors) {
        self.path = path
        self.manifest = manifest
        self.weights = weights
    }

    /// Writes manifest and weights into `path` (created if needed).
    public func write() throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try weights.write(to: "\(path)/\(manifest.weights)")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let manifestPath = "\(path)/\(Self.manifestName)"
        do { try encoder.encode(manifest).write(to: URL(fileURLWithPath: manifestPath), options: .atomic) } catch {
            throw InferenceError("\(manifestPath): cannot write (\(error.localizedDescription))")
        }
    }

    /// Canonical fp32 weights from a PyTorch state_dict exported to safetensors: a `module.`
    /// prefix is dropped, `up*.conv1.*` (the reference registers the Up convolution twice) is
    /// accepted in place of `up*.conv.*`, `num_batches_tracked` is dropped, and every tensor the
    /// network needs must be present with its shape.
    public static func canonicalWeights(fromStateDict source: SafeTensors, sourceName: String) throws -> SafeTensors {
        var byName: [String: SafeTensors.Tensor] = [:]
        for (key, tensor) in source.tensors {
            var k = key.hasPrefix("module.") ? String(key.dropFirst(7)) : key
            if k.hasSuffix("num_batches_tracked") { continue }
            if k.hasPrefix("up"), let r = k.range(of: ".conv1.") { k.replaceSubrange(r, with: ".conv.") }
            let f32 = SafeTensors.Tensor(shape: tensor.shape, values: try tensor.floats())
            if let existing = byName[k], existing.bytes != f32.bytes {
                throw InferenceError("\(sourceName): \(key) differs from its duplicate \(k)")
            }
            byName[k] = f32
        }
        let out = SafeTensors(tensors: byName, metadata: ["format": "pt"])
        try validate(out, source: sourceName)
        return out
    }

    /// Checks that every layer the engine needs has its tensors with the right shapes.
    static func validate(_ weights: SafeTensors, source: String) throws {
        do {
            for layer in LCOVNetArchitecture.layers(widths: LCOVNetArchitecture.widths(of: weights)) {
                _ = try FoldedConvolution(layer, from: weights)
            }
        } catch let error as InferenceError {
            throw InferenceError("\(source): \(error.message.replacingOccurrences(of: "weights: ", with: ""))")
        }
    }

    /// Imports a state_dict (safetensors) into a new fp32 model directory.
    public static func importStateDict(
        _ file: String, into path: String, input: InputPreparation = .officialCheckpoint,
        window: [Int] = [64, 160, 160], modelVersion: String? = nil,
        notes extra: [String] = []
    ) throws -> ModelDirectory {
        let source = try SafeTensors(contentsOf: file)
        let weights = try canonicalWeights(fromStateDict: source, sourceName: file)
        let now = ISO8601DateFormatter().string(from: Date())
        var notes = ["imported by lcovnet model import"]
        if let meta = source.metadata["source"] { notes.append("exporter metadata source: \(meta)") }
        notes += extra
        let manifest = ModelManifest(
            modelVersion: modelVersion ?? String(now.prefix(10)), classes: OrganClass.word, input: input,
            window: window,
            precision: .fp32,
            provenance: .init(
                source: URL(fileURLWithPath: file).lastPathComponent, sourceSHA256: try SHA256.hex(ofFile: file),
                created: now, notes: notes))
        let model = ModelDirectory(path: path, manifest: manifest, weights: weights)
        try model.write()
        return model
    }
}
