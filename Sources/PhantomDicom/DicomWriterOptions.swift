import Ingest

/// How `DicomSeriesWriter` writes a volume: transfer syntax, identity and the quirks of real
/// exports that the reader must survive. Names and IDs are phantom values, never a person's.
public struct DicomWriterOptions: Sendable {
    public var transferSyntax: DicomTransferSyntax = .explicitLittleEndian
    /// Generated (2.25 UUID form) when nil.
    public var seriesInstanceUID: String?
    public var studyInstanceUID: String?
    public var frameOfReferenceUID: String?
    public var seriesNumber = 1
    public var seriesDescription = "lcovnet phantom"
    public var patientName = "PHANTOM^LCOVNET"
    public var patientID = "LCOVNET-PHANTOM"
    /// The Modality tag; another value than "CT" (an MR series, say) is one the reader's policy
    /// rejects. The SOP class stays CT Image Storage.
    public var modality = "CT"

    /// Store 16-bit signed values with intercept 0 instead of 12-bit unsigned with intercept −1024.
    public var signedPixels = false
    /// One enhanced CT object with per-frame functional groups instead of one file per slice.
    public var enhancedMultiFrame = false

    // Quirks
    /// File names in a random (seeded) order that says nothing about slice order.
    public var shuffledFileNames = false
    /// InstanceNumber runs from the last slice to the first.
    public var reversedInstanceNumbers = false
    /// Tilts the image planes by this angle (degrees) about the row direction while the slice
    /// positions still step along the volume's k axis, as a tilted CT gantry does.
    public var gantryTiltDegrees: Double?
    /// Slice indices (k) left out: a gap in the series.
    public var omittedSlices: Set<Int> = []
    /// Slice indices (k) written twice under two file names (same SOP Instance UID).
    public var duplicatedSlices: Set<Int> = []
    /// Adds an orthogonal LOCALIZER image to the series.
    public var addLocalizer = false
    /// Leaves SeriesInstanceUID and SOPInstanceUID empty in the dataset (the file meta keeps the latter).
    public var emptyDatasetUIDs = false
    /// Seeds the file-name shuffle so fixtures are reproducible.
    public var seed: UInt64 = 1

    public init(transferSyntax: DicomTransferSyntax = .explicitLittleEndian) {
        self.transferSyntax = transferSyntax
    }
}
