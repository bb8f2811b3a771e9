import Foundation

/// DICOM UIDs in the 2.25 form: a random UUID written as one decimal integer.
public enum DicomUID {
    public static func make() -> String {
        let u = UUID().uuid
        let bytes = [u.0, u.1, u.2, u.3, u.4, u.5, u.6, u.7, u.8, u.9, u.10, u.11, u.12, u.13, u.14, u.15]
        let value = bytes.reduce(UInt128(0)) { $0 << 8 | UInt128($1) }
        return "2.25.\(value)"
    }
}
