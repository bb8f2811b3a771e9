/// The transfer syntaxes the series writer can produce (all lossless).
public enum DicomTransferSyntax: String, Sendable, CaseIterable, Codable {
    case implicitLittleEndian = "implicit-little"
    case explicitLittleEndian = "explicit-little"
    case explicitBigEndian = "explicit-big"
    case deflated = "deflated"
    case rle = "rle"
    case jpegLossless = "jpeg-lossless"
    case jpegLS = "jpeg-ls"
    case jpeg2000Lossless = "jpeg2000"

    public var uid: String {
        switch self {
        case .implicitLittleEndian: "1.2.840.10008.1.2"
        case .explicitLittleEndian: "1.2.840.10008.1.2.1"
        case .explicitBigEndian: "1.2.840.10008.1.2.2"
        case .deflated: "1.2.840.10008.1.2.1.99"
        case .rle: "1.2.840.10008.1.2.5"
        case .jpegLossless: "1.2.840.10008.1.2.4.70"
        case .jpegLS: "1.2.840.10008.1.2.4.80"
        case .jpeg2000Lossless: "1.2.840.10008.1.2.4.90"
        }
    }
}
