import ArgumentParser
import Foundation
import Inference

/// `lcovnet model info DIR`
struct ModelInfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "info", abstract: "Describe a model directory.")

    @Argument(help: "model directory")
    var directory: String

    func run() throws {
        let model = try ModelDirectory(path: directory)
        let m = model.manifest
        // Learned parameters (BatchNorm running statistics are buffers, not parameters).
        let parameters = model.weights.tensors.filter {
            !$0.key.hasSuffix("running_mean") && !$0.key.hasSuffix("running_var")
        }
        .values.reduce(0) { $0 + $1.count }
        print("model:        \(directory)")
        print("architecture: \(m.architecture), \(parameters) parameters")
        print("version:      \(m.modelVersion) (manifest format \(m.formatVersion))")
        print("precision:    \(m.precision.rawValue)")
        print("window:       \(m.window.map(String.init).joined(separator: "×")) (D×H×W)")
        print("classes:      \(m.classes.map { "\($0.id) \($0.name)" }.joined(separator: ", "))")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        print("input:        \(String(decoding: try encoder.encode(m.input), as: UTF8.self))")
        print(
            "source:       \(m.provenance.source) sha256 \(m.provenance.sourceSHA256 ?? "-"), created \(m.provenance.created)"
        )
        for note in m.provenance.notes { print("              \(note)") }
        if let q = m.quantization {
            print(
                "quantization: \(q.method), \(q.activationScales.count) activation scales, fp32 layers: \(q.fp32Layers.isEmpty ? "none" : q.fp32Layers.joined(separator: ", "))"
            )
            for note in q.notes { print("              \(note)") }
        }
    }
}
