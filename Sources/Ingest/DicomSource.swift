/// The DICOM images a volume was read from, as far as results written back as DICOM (a
/// Segmentation) need them: one file of the series, whose patient, study and frame of reference
/// the results take over, and each slice's SOP Instance UID when slice k of the volume is exactly
/// source image k (no interpolated slice, no tilt repair, no multi-frame file).
public struct DicomSource: Sendable, Codable, Equatable {
    public var file: String
    public var sliceInstanceUIDs: [String]?

    public init(file: String, sliceInstanceUIDs: [String]?) {
        self.file = file
        self.sliceInstanceUIDs = sliceInstanceUIDs
    }

    init?(_ candidate: SeriesCandidate) {
        guard let first = candidate.slices.first else { return nil }
        let uids = candidate.slices.map(\.sopInstanceUID)
        let oneToOne = candidate.tilt == nil && candidate.targetLocations == nil && uids.count == candidate.sliceCount
            && Set(uids).count == uids.count && !uids.contains("")
        self.init(file: first.path, sliceInstanceUIDs: oneToOne ? uids : nil)
    }
}
