import Foundation
import ModelSpec

/// Numeric precision of the engine's graph.
public enum Precision: String, Sendable, Codable, CaseIterable {
    case fp32, int8
}

/// `manifest.json` of a model directory: what the network is, what it outputs, how its input is
/// prepared, and where its weights and quantization scales come from.
public struct ModelManifest: Sendable, Codable, Equatable {
    /// Version of this manifest format.
    public static let formatVersion = 1

    public var format: String = "lcovnet-model"
    public var formatVersion: Int = ModelManifest.formatVersion
    public var architecture: String = "LCOV-Net"
    /// Version of the model itself (who trained it decides; import uses the import date).
    public var modelVersion: String
    public var classes: [OrganClass]
    public var input: InputPreparation
    /// Window the model was trained with, [D, H, W].
    public var window: [Int]
    public var precision: Precision
    /// Weights file inside the directory (safetensors, fp32, canonical key names).
    public var weights: String = "weights.safetensors"
    public var quantization: Quantization?
    public var provenance: Provenance

    public init(
        modelVersion: String, classes: [OrganClass], input: InputPreparation, window: [Int], precision: Precision,
        quantization: Quantization? = nil, provenance: Provenance
    ) {
        self.modelVersion = modelVersion
        self.classes = classes
        self.input = input
        self.window = window
        self.precision = precision
        self.quantization = quantization
        self.provenance = provenance
    }

    enum CodingKeys: String, CodingKey {
        case format, formatVersion = "format_version", architecture, modelVersion = "model_version", classes, input
        case window, precision, weights, quantization, provenance
    }

    public struct Provenance: Sendable, Codable, Equatable {
        /// Where the weights came from (file name of the imported checkpoint, or a training run).
        public var source: String
        /// SHA-256 of the source file as given.
        public var sourceSHA256: String?
        /// ISO 8601 time this directory was written.
        public var created: String
        public var notes: [String]

        public init(source: String, sourceSHA256: String?, created: String, notes: [String] = []) {
            self.source = source
            self.sourceSHA256 = sourceSHA256
            self.created = created
            self.notes = notes
        }

        enum CodingKeys: String, CodingKey { case source, sourceSHA256 = "source_sha256", created, notes }
    }

    /// Calibrated int8 scales. Weights are quantized per output channel, symmetric s8, from the
    /// fp32 weights when the engine loads; activations use these per-tensor scales (real value =
    /// scale × integer).
    public struct Quantization: Sendable, Codable, Equatable {
        /// Calibration method that produced the scales (e.g. "max", "percentile-99.99").
        public var method: String
        /// Activation scale per quantized tensor name (see LCOVNetGraph's tensor names).
        public var activationScales: [String: Float]
        /// Layers kept in fp32 because int8 lost accuracy there, by measurement.
        public var fp32Layers: [String]
        /// Calibration inputs and the measurements behind the choices.
        public var notes: [String]
        /// How the window enters the int8 graph: "s8" (signed input, e.g. z-scored) or "u8" (input
        /// never negative, e.g. clip-scale to [0, 1]: one more bit). Manifests without it mean s8.
        public var inputType: String

        public init(
            method: String, activationScales: [String: Float], fp32Layers: [String], notes: [String],
            inputType: String = "s8"
        ) {
            self.method = method
            self.activationScales = activationScales
            self.fp32Layers = fp32Layers
            self.notes = notes
            self.inputType = inputType
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            method = try c.decode(String.self, forKey: .method)
            activationScales = try c.decode([String: Float].self, forKey: .activationScales)
            fp32Layers = try c.decode([String].self, forKey: .fp32Layers)
            notes = try c.decode([String].self, forKey: .notes)
            inputType = try c.decodeIfPresent(String.self, forKey: .inputType) ?? "s8"
            guard ["s8", "u8"].contains(inputType) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .inputType, in: c, debugDescription: "input_type must be s8 or u8, not \(inputType)")
            }
        }

        enum CodingKeys: String, CodingKey {
            case method, activationScales = "activation_scales", fp32Layers = "fp32_layers", notes, inputType =
                "input_type"
        }
    }
}
