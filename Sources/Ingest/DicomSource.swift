/// The DICOM images a volume was read from, as far as results written back as DICOM (a
/// Segmentation) need them: one file of the series, whose patient, study and frame of reference
/// the results take over, and each slice's SOP Instance UID when slice k of the volume is exactly
/// source image k (no interpolated slice, no tilt repair, no multi-frame file).
public struct DicomSource: Sendable, Codable, Equatable {
    public var file: String
    public var sliceInstanceUIDs: [String]?
    /// The volume's rows run opposite to the images' (ingest reverses them for some orientations):
    /// DICOM results reverse them back so that frames lie on the images pixel for pixel.
    public var rowsReversed: Bool

    public init(file: String, sliceInstanceUIDs: [String]?, rowsReversed: Bool = false) {
        self.file = file
        self.sliceInstanceUIDs = sliceInstanceUIDs
        self.rowsReversed = rowsReversed
    }

    init?(_ candidate: SeriesCandidate) {
        guard let first = candidate.slices.first else { return nil }
        let uids = candidate.slices.map(\.sopInstanceUID)
        // Ingest turns rows around where the images' columns run towards the patient's front
        // (dcm2niix's convention); the images' own layout is then the volume's rows reversed.
        let d = candidate.geometry.direction
        func near(_ a: SIMD3<Double>, _ b: SIMD3<Double>) -> Bool { ((a - b) * (a - b)).sum() < 1e-8 }
        let flipped = near(d[1], -candidate.columnDirection)
        let sameLayout = near(d[0], candidate.rowDirection) && (flipped || near(d[1], candidate.columnDirection))
        let oneToOne =
            candidate.tilt == nil && candidate.targetLocations == nil && uids.count == candidate.sliceCount
            && Set(uids).count == uids.count && !uids.contains("") && sameLayout
        self.init(file: first.path, sliceInstanceUIDs: oneToOne ? uids : nil, rowsReversed: flipped)
    }
}
