import Foundation
import NIfTI
import Preprocess

/// Corrected label maps a person dropped into the corrections folder, one per series:
/// `<SeriesInstanceUID>.nii.gz` (or `.nii`, `.nii.zst`) on the series' own grid. Where one
/// exists it replaces the teacher's argmax as the hard labels of that series' patches.
public struct Corrections: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    public func file(for seriesUID: String) -> String? {
        for ext in [".nii.gz", ".nii.zst", ".nii"] {
            let f = "\(path)/\(seriesUID)\(ext)"
            if FileManager.default.fileExists(atPath: f) { return f }
        }
        return nil
    }

    /// The corrected labels of a series on its prepared grid (nil when there is none).
    public func preparedLabels(seriesUID: String, record: PreparationRecord) throws -> [UInt8]? {
        guard let f = file(for: seriesUID) else { return nil }
        let labels = try NIfTIFile.read(f).labelVolume()
        guard labels.size == record.sourceGeometry.size else {
            throw CacheError(
                "\(f): \(labels.size) voxels, but the series has \(record.sourceGeometry.size); a correction must be on the series' own grid"
            )
        }
        return PreparedLabels.carry(labels, onto: record)
    }
}
