import Volumes

/// Why a file or a series was rejected, or how it was repaired: a stable code and one sentence.
///
/// The raw values never change once released; the daemon's quarantine records and the table in
/// docs/INGEST.md use them.
public enum IngestCode: String, Sendable, CaseIterable, Codable {
    // Files
    case unreadable = "unreadable"
    case notDicom = "not-dicom"
    case corrupt = "corrupt"
    case notImage = "not-image"
    case notCT = "not-ct"
    case unsupportedPixels = "unsupported-pixels"
    case missingGeometry = "missing-geometry"
    case localizer = "localizer"
    case orientationOutlier = "orientation-outlier"
    case duplicate = "duplicate"
    // Series
    case conflictingSlices = "conflicting-slices"
    case missingSlices = "missing-slices"
    case missingSlicesInterpolated = "missing-slices-interpolated"
    case nonUniformSpacing = "nonuniform-spacing"
    case nonUniformSpacingResampled = "nonuniform-spacing-resampled"
    case gantryTilt = "gantry-tilt"
    case gantryTiltResampled = "gantry-tilt-resampled"
    case oblique = "oblique"
    case tooFewSlices = "too-few-slices"
    case decodeFailed = "decode-failed"
    case valuesClamped = "values-clamped"
    // Plausibility limits (Volumes.Plausibility): files or series
    case implausibleGeometry = "implausible-geometry"
    case implausibleSize = "implausible-size"
    case decompressedTooLarge = "decompressed-too-large"
    case implausibleTilt = "implausible-tilt"
    case overMemoryBudget = "over-memory-budget"
    case uidTooLong = "uid-too-long"
    // Folders
    case noInput = "no-input"
    case noSeries = "no-series"
    case seriesNotFound = "series-not-found"

    /// The one sentence that explains the code.
    public var sentence: String {
        switch self {
        case .unreadable: "The file cannot be opened or read."
        case .notDicom: "The file is not DICOM: no DICM marker and no DICOM tag at its start."
        case .corrupt: "DCMTK cannot parse the file; it is truncated or damaged."
        case .notImage: "The object has no pixel data (a report, a presentation state, a DICOMDIR)."
        case .notCT: "The modality is not CT, and the policy accepts only CT."
        case .unsupportedPixels: "The pixels are not single-sample grayscale of 8, 16 or 32 bits."
        case .missingGeometry: "ImagePositionPatient, ImageOrientationPatient or PixelSpacing is missing or invalid."
        case .localizer: "The image is a localizer or scout (ImageType), so it was left out of the volume."
        case .orientationOutlier:
            "The image's orientation or size differs from the rest of its series, so it was left out."
        case .duplicate:
            "The image repeats an instance already in the series (same SOP Instance UID), so one copy was left out."
        case .conflictingSlices: "Two different images lie at the same position in the series."
        case .missingSlices: "The slice positions have a gap: at least one slice is missing."
        case .missingSlicesInterpolated: "Missing slices were filled by linear interpolation between their neighbours."
        case .nonUniformSpacing: "The distance between consecutive slices is not constant."
        case .nonUniformSpacingResampled: "Slices with unequal spacing were resampled linearly onto a regular grid."
        case .gantryTilt: "The slices were acquired with gantry tilt (positions sheared against the slice normal)."
        case .gantryTiltResampled:
            "Gantry tilt was corrected by shifting each slice onto a grid orthogonal to the slices."
        case .oblique: "The slices are oblique; the rotation is kept in the affine, the voxels are not resampled."
        case .tooFewSlices: "The series has fewer slices than the policy requires."
        case .decodeFailed: "The pixel data cannot be decoded."
        case .valuesClamped: "Some values lay outside the int16 range and were clamped."
        case .implausibleGeometry: PlausibilityCode.implausibleGeometry.sentence
        case .implausibleSize: PlausibilityCode.implausibleSize.sentence
        case .decompressedTooLarge: PlausibilityCode.decompressedTooLarge.sentence
        case .implausibleTilt: PlausibilityCode.implausibleTilt.sentence
        case .overMemoryBudget: PlausibilityCode.overMemoryBudget.sentence
        case .uidTooLong:
            "A UID is longer than DICOM allows (64 characters); cut short it could merge two series or two slices."
        case .noInput: "The input folder does not exist, is empty, or holds no readable file."
        case .noSeries: "No eligible CT series was found among the DICOM files."
        case .seriesNotFound: "No eligible series has the requested SeriesInstanceUID."
        }
    }

    /// Whether the code removes the file or series from conversion (the others are repairs and notes).
    public var isRejection: Bool {
        switch self {
        case .missingSlicesInterpolated, .nonUniformSpacingResampled, .gantryTiltResampled, .oblique,
            .valuesClamped, .duplicate, .localizer, .orientationOutlier:
            false
        default: true
        }
    }
}

extension IngestCode {
    /// The ingest code of a plausibility limit (the same stable string).
    public init(_ code: PlausibilityCode) {
        switch code {
        case .implausibleGeometry: self = .implausibleGeometry
        case .implausibleSize: self = .implausibleSize
        case .decompressedTooLarge: self = .decompressedTooLarge
        case .implausibleTilt: self = .implausibleTilt
        case .overMemoryBudget: self = .overMemoryBudget
        }
    }

    /// Whether the code is one of the plausibility limits.
    public var isPlausibilityLimit: Bool { PlausibilityCode(rawValue: rawValue) != nil }
}

/// One rejection, repair or note, with the file or series it concerns.
public struct IngestNote: Sendable, Equatable, CustomStringConvertible {
    public var code: IngestCode
    /// The file (for file-level notes) or nil.
    public var path: String?
    /// Extra facts in words (numbers, never patient data).
    public var detail: String?

    public init(_ code: IngestCode, path: String? = nil, detail: String? = nil) {
        self.code = code
        self.path = path
        self.detail = detail
    }

    public var description: String {
        var text = "[\(code.rawValue)] "
        if let path { text += "\(path): " }
        text += code.sentence
        if let detail { text += " (\(detail))" }
        return text
    }
}

/// A failure of the ingest stage: a code, the path concerned and one line for people.
public struct IngestError: Error, Sendable, CustomStringConvertible {
    public var code: IngestCode
    public var path: String
    public var detail: String?

    public init(_ code: IngestCode, path: String, detail: String? = nil) {
        self.code = code
        self.path = path
        self.detail = detail
    }

    /// The same failure in ingest's terms.
    public init(_ error: PlausibilityError) {
        self.init(IngestCode(error.code), path: error.path, detail: error.detail)
    }

    public var description: String {
        "\(path): \(code.sentence)\(detail.map { " (\($0))" } ?? "") [\(code.rawValue)]"
    }
}
