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
    /// Crop to the bounding box of the voxels that are not exactly 0 before resampling, as
    /// nnU-Net v1 does (`crop_to_nonzero`); an alternative to `bodyCrop`, not combined with it.
    public var cropToNonzero: Bool

    public init(
        orientation: String?, resample: Resampling, normalization: Normalization, bodyCrop: BodyCrop?,
        cropToNonzero: Bool = false
    ) {
        self.orientation = orientation
        self.resample = resample
        self.normalization = normalization
        self.bodyCrop = bodyCrop
        self.cropToNonzero = cropToNonzero
    }

    enum CodingKeys: String, CodingKey {
        case orientation, resample, normalization
        case bodyCrop = "body_crop"
        case cropToNonzero = "crop_to_nonzero"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        orientation = try c.decodeIfPresent(String.self, forKey: .orientation)
        resample = try c.decode(Resampling.self, forKey: .resample)
        normalization = try c.decode(Normalization.self, forKey: .normalization)
        bodyCrop = try c.decodeIfPresent(BodyCrop.self, forKey: .bodyCrop)
        cropToNonzero = try c.decodeIfPresent(Bool.self, forKey: .cropToNonzero) ?? false
        if cropToNonzero && bodyCrop != nil {
            throw DecodingError.dataCorruptedError(
                forKey: .cropToNonzero, in: c, debugDescription: "crop_to_nonzero and body_crop exclude each other")
        }
        if case .nnUNetV1 = resample, orientation != nil {
            throw DecodingError.dataCorruptedError(
                forKey: .orientation, in: c,
                debugDescription: "nnunet-v1 resampling keeps the stored voxel order: orientation must be null")
        }
    }

    /// Manifests written before `crop_to_nonzero` existed stay byte-identical: the key is written only when set.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(orientation, forKey: .orientation)
        try c.encode(resample, forKey: .resample)
        try c.encode(normalization, forKey: .normalization)
        try c.encodeIfPresent(bodyCrop, forKey: .bodyCrop)
        if cropToNonzero { try c.encode(true, forKey: .cropToNonzero) }
    }

    public enum Resampling: Sendable, Equatable, Codable {
        /// Whole volume rescaled to this many voxels along (i, j, k) (the reference's 256×256×160).
        case fixedShape(i: Int, j: Int, k: Int)
        /// Resampled to this voxel spacing in mm along (i, j, k).
        case spacing(SIMD3<Double>)
        /// nnU-Net v1's `resample_patient` towards this spacing (i, j, k): `round(n · spacing /
        /// target)` voxels (half to even), cubic B-spline with edge extension and clipped to the
        /// input's range (skimage `resize`, order 3), except that when one axis's spacing (the
        /// scan's, else the target's) exceeds `anisotropyThreshold` × the smallest, that axis
        /// is resampled by nearest neighbour and the others slice by slice.
        case nnUNetV1(spacing: SIMD3<Double>, anisotropyThreshold: Double)

        enum CodingKeys: String, CodingKey {
            case mode, shape, spacingMM = "spacing_mm", anisotropyThreshold = "anisotropy_threshold"
        }

        /// JSON: `{"mode": "fixed-shape", "shape": [i, j, k]}` or `{"mode": "spacing", "spacing_mm": [x, y, z]}`.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            switch try c.decode(String.self, forKey: .mode) {
            case "fixed-shape":
                let s = try c.decode([Int].self, forKey: .shape)
                guard s.count == 3, s.allSatisfy({ $0 > 0 }) else {
                    throw DecodingError.dataCorruptedError(
                        forKey: .shape, in: c, debugDescription: "shape needs 3 positive sizes [i, j, k]")
                }
                self = .fixedShape(i: s[0], j: s[1], k: s[2])
            case "spacing":
                let s = try c.decode([Double].self, forKey: .spacingMM)
                guard s.count == 3, s.allSatisfy({ $0 > 0 }) else {
                    throw DecodingError.dataCorruptedError(
                        forKey: .spacingMM, in: c, debugDescription: "spacing_mm needs 3 positive numbers")
                }
                self = .spacing(SIMD3(s[0], s[1], s[2]))
            case "nnunet-v1":
                let s = try c.decode([Double].self, forKey: .spacingMM)
                guard s.count == 3, s.allSatisfy({ $0 > 0 }) else {
                    throw DecodingError.dataCorruptedError(
                        forKey: .spacingMM, in: c, debugDescription: "spacing_mm needs 3 positive numbers")
                }
                let threshold = try c.decodeIfPresent(Double.self, forKey: .anisotropyThreshold) ?? 3
                guard threshold > 1 else {
                    throw DecodingError.dataCorruptedError(
                        forKey: .anisotropyThreshold, in: c, debugDescription: "anisotropy_threshold must exceed 1")
                }
                self = .nnUNetV1(spacing: SIMD3(s[0], s[1], s[2]), anisotropyThreshold: threshold)
            case let other:
                throw DecodingError.dataCorruptedError(
                    forKey: .mode, in: c,
                    debugDescription: "unknown resample mode \(other) (fixed-shape, spacing or nnunet-v1)")
            }
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            switch self {
            case .fixedShape(let i, let j, let k):
                try c.encode("fixed-shape", forKey: .mode)
                try c.encode([i, j, k], forKey: .shape)
            case .spacing(let s):
                try c.encode("spacing", forKey: .mode)
                try c.encode([s.x, s.y, s.z], forKey: .spacingMM)
            case .nnUNetV1(let s, let threshold):
                try c.encode("nnunet-v1", forKey: .mode)
                try c.encode([s.x, s.y, s.z], forKey: .spacingMM)
                try c.encode(threshold, forKey: .anisotropyThreshold)
            }
        }
    }

    public enum Normalization: Sendable, Equatable, Codable {
        /// Per-volume mean and standard deviation (over the body when cropped).
        case zScore
        /// Clip HU to [min, max] and scale linearly to [0, 1].
        case clipScale(min: Double, max: Double)
        /// Clip HU to [min, max], then subtract `mean` and divide by `sd`: fixed statistics of a
        /// training set's foreground (nnU-Net's "CT" scheme: its 0.5 and 99.5 percentiles, mean, sd).
        case clipZScore(min: Double, max: Double, mean: Double, sd: Double)

        enum CodingKeys: String, CodingKey { case mode, huMin = "hu_min", huMax = "hu_max", mean, sd }

        /// JSON: `{"mode": "zscore"}` or `{"mode": "clip-scale", "hu_min": -200, "hu_max": 300}`.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            switch try c.decode(String.self, forKey: .mode) {
            case "zscore": self = .zScore
            case "clip-scale":
                let lo = try c.decode(Double.self, forKey: .huMin)
                let hi = try c.decode(Double.self, forKey: .huMax)
                guard hi > lo else {
                    throw DecodingError.dataCorruptedError(
                        forKey: .huMax, in: c, debugDescription: "hu_max must exceed hu_min")
                }
                self = .clipScale(min: lo, max: hi)
            case "clip-zscore":
                let lo = try c.decode(Double.self, forKey: .huMin)
                let hi = try c.decode(Double.self, forKey: .huMax)
                let mean = try c.decode(Double.self, forKey: .mean)
                let sd = try c.decode(Double.self, forKey: .sd)
                guard hi > lo else {
                    throw DecodingError.dataCorruptedError(
                        forKey: .huMax, in: c, debugDescription: "hu_max must exceed hu_min")
                }
                guard sd > 0 else {
                    throw DecodingError.dataCorruptedError(forKey: .sd, in: c, debugDescription: "sd must be positive")
                }
                self = .clipZScore(min: lo, max: hi, mean: mean, sd: sd)
            case let other:
                throw DecodingError.dataCorruptedError(
                    forKey: .mode, in: c,
                    debugDescription: "unknown normalization mode \(other) (zscore, clip-scale or clip-zscore)")
            }
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            switch self {
            case .zScore: try c.encode("zscore", forKey: .mode)
            case .clipScale(let lo, let hi):
                try c.encode("clip-scale", forKey: .mode)
                try c.encode(lo, forKey: .huMin)
                try c.encode(hi, forKey: .huMax)
            case .clipZScore(let lo, let hi, let mean, let sd):
                try c.encode("clip-zscore", forKey: .mode)
                try c.encode(lo, forKey: .huMin)
                try c.encode(hi, forKey: .huMax)
                try c.encode(mean, forKey: .mean)
                try c.encode(sd, forKey: .sd)
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
