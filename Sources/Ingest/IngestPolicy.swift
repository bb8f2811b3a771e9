/// The choices ingest makes where a series is imperfect: reject it, or repair it.
public struct IngestPolicy: Sendable {
    public enum Choice: String, Sendable, Codable {
        case reject
        case repair
    }

    /// Modalities accepted (upper case); nil accepts every grayscale image.
    public var modalities: Set<String>? = ["CT"]
    /// A gap in the slice positions: reject (default; the series may still be arriving) or
    /// fill the gap by linear interpolation.
    public var missingSlices: Choice = .reject
    /// Unequal distances between slices: reject (default) or resample linearly to a regular grid.
    public var nonUniformSpacing: Choice = .reject
    /// Gantry tilt: shift each slice onto an orthogonal grid (default, as dcm2niix's `_Tilt`), or reject.
    public var gantryTilt: Choice = .repair
    /// A file that looks like DICOM but cannot be parsed (truncated, damaged, still being copied)
    /// may belong to any series of the folder: reject the folder (default), or repair = leave the
    /// file out and convert the rest.
    public var damagedFiles: Choice = .reject
    /// Series with fewer slices are rejected.
    public var minimumSlices = 1
    /// Keep the scan's parsed headers (a few KiB per file) for the loader instead of parsing
    /// every file twice. Off for scans of huge folders that load little.
    public var keepsOpenFiles = true
    /// Threads for scanning and decoding.
    public var threads = 2
    /// Relative tolerance on slice spacing (fraction of the typical spacing) before a series counts
    /// as non-uniform; 1 % absorbs the rounding of positions written as decimal strings.
    public var spacingTolerance = 0.01

    public init() {}

    /// The site's choices as a worker child's arguments (`lcovnet worker group|decode`).
    public var arguments: [String] {
        [
            "--missing-slices", missingSlices.rawValue, "--nonuniform-spacing", nonUniformSpacing.rawValue,
            "--gantry-tilt", gantryTilt.rawValue, "--damaged-files", damagedFiles.rawValue, "--minimum-slices",
            "\(minimumSlices)"
        ]
    }
}
