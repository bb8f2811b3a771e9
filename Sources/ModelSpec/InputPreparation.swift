/// How a model wants its input prepared, as its manifest states it (JSON key `input`).
///
/// The official LCOV-Net checkpoint was trained on whole volumes rescaled to a fixed shape
/// with per-volume z-score; lcovnet's own models use a target spacing and an HU window.
/// Example: `{"orientation": "LPS", "resample": {"mode": "spacing", "spacing_mm": [1.5, 1.5, 3]},
/// "normalization": {"mode": "clip-scale", "hu_min": -200, "hu_max": 300},
/// "body_crop": {"threshold_hu": -500, "margin_mm": 10}}`.
public struct InputPreparation: Sendable, Equatable, Codable {
    /// Three letters (Geometry.orientationCode) the voxel axes i, j, k must run towards,
    /// or nil to keep the stored voxel order (what the official checkpoint saw).
    public var orientation: String?
    public var resample: Resampling
    public var normalization: Normalization
    /// nil: no body crop.
    public var bodyCrop: BodyCrop?

    public init(orientation: String?, resample: Resampling, normalization: Normalization, bodyCrop: BodyCrop?) {
        self.orientation = orientation
        self.resample = resample
        self.normalization = normalization
        self.bodyCrop = bodyCrop
    }

    enum CodingKeys: String, CodingKey {
        case orientation, resample, normalization
        case bodyCrop = "body_crop"
    }

    public enum Resampling: Sendable, Equatable, Codable {
        /// Whole volume rescaled to this many voxels along (i, j, k) (the reference's 256×256×160).
        case fixedShape(i: Int, j: Int, k: Int)
        /// Resampled to this voxel spacing in mm along (i, j, k).
        case spacing(SIMD3<Double>)

        enum CodingKeys: String, CodingKey { case mode, shape, spacingMM = "spacing_mm" }

        /// JSON: `{"mode": "fixed-shape", "shape": [i, j, k]}` or `{"mode": "spacing", "spacing_mm": [x, y, z]}`.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            switch try c.decode(String.self, forKey: .mode) {
            case "fixed-shape":
                let s = try c.decode([Int].self, forKey: .shape)
                guard s.count == 3, s.allSatisfy({ $0 > 0 }) else {
                    throw DecodingError.dataCorruptedError(forKey: .shape, in: c, debugDescription: "shape needs 3 positive sizes [i, j, k]")
                }
                self = .fixedShape(i: s[0], j: s[1], k: s[2])
            case "spacing":
                let s = try c.decode([Double].self, forKey: .spacingMM)
                guard s.count == 3, s.allSatisfy({ $0 > 0 }) else {
                    throw DecodingError.dataCorruptedError(forKey: .spacingMM, in: c, debugDescription: "spacing_mm needs 3 positive numbers")
                }
                self = .spacing(SIMD3(s[0], s[1], s[2]))
            case let other:
                throw DecodingError.dataCorruptedError(forKey: .mode, in: c, debugDescription: "unknown resample mode \(other) (fixed-shape or spacing)")
            }
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            switch self {
            case let .fixedShape(i, j, k):
                try c.encode("fixed-shape", forKey: .mode)
                try c.encode([i, j, k], forKey: .shape)
            case let .spacing(s):
                try c.encode("spacing", forKey: .mode)
                try c.encode([s.x, s.y, s.z], forKey: .spacingMM)
            }
        }
    }

    public enum Normalization: Sendable, Equatable, Codable {
        /// Per-volume mean and standard deviation (over the body when cropped).
        case zScore
        /// Clip HU to [min, max] and scale linearly to [0, 1].
        case clipScale(min: Double, max: Double)

        enum CodingKeys: String, CodingKey { case mode, huMin = "hu_min", huMax = "hu_max" }

        /// JSON: `{"mode": "zscore"}` or `{"mode": "clip-scale", "hu_min": -200, "hu_max": 300}`.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            switch try c.decode(String.self, forKey: .mode) {
            case "zscore": self = .zScore
            case "clip-scale":
                let lo = try c.decode(Double.self, forKey: .huMin), hi = try c.decode(Double.self, forKey: .huMax)
                guard hi > lo else {
                    throw DecodingError.dataCorruptedError(forKey: .huMax, in: c, debugDescription: "hu_max must exceed hu_min")
                }
                self = .clipScale(min: lo, max: hi)
            case let other:
                throw DecodingError.dataCorruptedError(forKey: .mode, in: c, debugDescription: "unknown normalization mode \(other) (zscore or clip-scale)")
            }
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            switch self {
            case .zScore: try c.encode("zscore", forKey: .mode)
            case let .clipScale(lo, hi):
                try c.encode("clip-scale", forKey: .mode)
                try c.encode(lo, forKey: .huMin)
                try c.encode(hi, forKey: .huMax)
            }
        }
    }

    public struct BodyCrop: Sendable, Equatable, Codable {
        /// Voxels above this HU count as body before the largest connected component is kept.
        public var thresholdHU: Double
        /// Margin kept around the body's bounding box, in mm.
        public var marginMM: Double

        public init(thresholdHU: Double, marginMM: Double) {
            self.thresholdHU = thresholdHU
            self.marginMM = marginMM
        }

        enum CodingKeys: String, CodingKey { case thresholdHU = "threshold_hu", marginMM = "margin_mm" }
    }
}

extension InputPreparation {
    /// What the official LCOV-Net checkpoint expects (PyMIC Rescale to 160×256×256 as D×H×W,
    /// per-volume z-score, stored voxel order).
    public static let officialCheckpoint = InputPreparation(
        orientation: nil, resample: .fixedShape(i: 256, j: 256, k: 160), normalization: .zScore, bodyCrop: nil)
}
