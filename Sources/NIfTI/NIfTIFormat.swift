/// The three containers of a single-file NIfTI-1 image, chosen by the file name.
public enum NIfTIFormat: String, Sendable, CaseIterable {
    /// Plain `.nii`.
    case nii
    /// gzip, what every viewer opens.
    case niiGz
    /// The same bytes as `.nii`, zstd-compressed: this product's default (faster, smaller).
    case niiZst

    public init?(path: String) {
        let lower = path.lowercased()
        if lower.hasSuffix(".nii.zst") {
            self = .niiZst
        } else if lower.hasSuffix(".nii.gz") {
            self = .niiGz
        } else if lower.hasSuffix(".nii") {
            self = .nii
        } else {
            return nil
        }
    }

    public var fileExtension: String {
        switch self {
        case .nii: ".nii"
        case .niiGz: ".nii.gz"
        case .niiZst: ".nii.zst"
        }
    }
}
