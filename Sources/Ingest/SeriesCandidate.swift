import Volumes

/// One frame of one file, placed in a series.
public struct SliceReference: Sendable {
    public var path: String
    public var frame: Int
    public var sopInstanceUID: String
    public var instanceNumber: Int?
    var position: SIMD3<Double>
    var slope: Double
    var intercept: Double
    /// Position along the slice normal (mm).
    var location: Double = 0
}

/// An assembled series: its slices in order, the grid they will fill, and what was repaired.
public struct SeriesCandidate: Sendable {
    /// The SeriesInstanceUID, or "" when the files leave it empty.
    public var seriesInstanceUID: String
    /// What `--series` matches: the UID, or a key built from other attributes when it is empty.
    public var id: String
    public var modality: String
    public var seriesNumber: Int?
    public var seriesDescription: String
    public var rows: Int
    public var columns: Int
    /// Slices sorted by position along the normal, duplicates and outliers removed.
    public var slices: [SliceReference]
    /// The output grid (after any repair).
    public var geometry: Geometry
    /// Repairs and notes (localizers left out, duplicates, tilt, gaps filled, oblique).
    public var notes: [IngestNote]

    /// Resampling the loader must do.
    var tilt: TiltCorrection?
    /// Handles the scan left open for the loader (nil when the policy keeps none).
    var openFiles: OpenFiles?
    var targetLocations: [Double]?  // output slice locations along the normal, when resampled
    var rowDirection: SIMD3<Double>
    var columnDirection: SIMD3<Double>

    public var sliceCount: Int { geometry.size.k }
    public var sliceSpacing: Double { geometry.spacing.z }
}

/// How gantry-tilt correction moves each slice onto the output grid.
struct TiltCorrection: Sendable {
    /// Per slice: output NIfTI row j shows input row j − offset (offsets ≥ 0).
    var rowOffsets: [Double]
    /// Per slice: the slice's drift along the DICOM row direction, in columns.
    var columnShifts: [Double]
    /// Rows added to the grid so that no voxel is lost.
    var extraRows: Int
}

/// A series that assembly rejected, with the reason.
public struct RejectedSeries: Sendable, Error {
    public var seriesInstanceUID: String
    public var id: String
    public var fileCount: Int
    public var notes: [IngestNote]
    /// The rejection (the first note that is one).
    public var reason: IngestNote { notes.first { $0.code.isRejection } ?? notes[0] }
}

/// Everything a scan found in a folder.
public struct DicomScan: Sendable {
    public var root: String
    public var fileCount: Int
    /// Eligible series, the preferred first: most slices, then thinnest spacing.
    public var candidates: [SeriesCandidate]
    public var rejectedSeries: [RejectedSeries]
    /// Files left out on their own (not DICOM, no pixels, not CT, localizers...).
    public var fileNotes: [IngestNote]

    /// Set when the policy rejects the whole folder (a damaged file that may belong to any series).
    public var folderRejection: IngestNote?

    /// The series `convert` takes without `--series`.
    public var preferred: SeriesCandidate? { candidates.first }

    public func candidate(id: String) -> SeriesCandidate? {
        candidates.first { $0.id == id || (!$0.seriesInstanceUID.isEmpty && $0.seriesInstanceUID == id) }
    }
}

/// How series are told apart: by SeriesInstanceUID, or, for files without one, by a fallback key
/// that hashes their folder among other things (so it changes when the files move).
public enum SeriesKey {
    static let fallbackPrefix = "nouid:"

    /// Whether a key is a fallback one: meaningful only in the folder it was computed in.
    public static func isFallback(_ key: String) -> Bool { key.hasPrefix(fallbackPrefix) }
}

/// A decoded series: the volume in HU with its geometry and a few non-identifying attributes.
public struct LoadedSeries: Sendable {
    public var volume: Volume<Int16>
    public var seriesInstanceUID: String
    public var id: String
    public var modality: String
    public var seriesNumber: Int?
    public var seriesDescription: String
    /// How many DICOM frames went into the volume.
    public var sourceSliceCount: Int
    public var notes: [IngestNote]
    /// What DICOM results refer back to: a file of the series (patient, study, frame of
    /// reference) and, when slice k of the volume is source image k, their SOP Instance UIDs.
    public var source: DicomSource?

    public init(
        volume: Volume<Int16>, seriesInstanceUID: String, id: String, modality: String, seriesNumber: Int?,
        seriesDescription: String, sourceSliceCount: Int, notes: [IngestNote], source: DicomSource? = nil
    ) {
        self.volume = volume
        self.seriesInstanceUID = seriesInstanceUID
        self.id = id
        self.modality = modality
        self.seriesNumber = seriesNumber
        self.seriesDescription = seriesDescription
        self.sourceSliceCount = sourceSliceCount
        self.notes = notes
        self.source = source
    }
}
