internal import CDicom

/// DICOM over TLS (BCP 195 profile, DCMTK dcmtls): this side's certificate and key (PEM) and,
/// when given, the certificates a peer's must chain to (the peer is then required to present one).
public struct DicomTLS: Sendable, Equatable {
    public var certificate: String
    public var privateKey: String
    public var trusted: String?

    public init(certificate: String, privateKey: String, trusted: String?) {
        self.certificate = certificate
        self.privateKey = privateKey
        self.trusted = trusted
    }

    /// The shim's view, valid inside `body` (all NULL without TLS).
    static func withOptions<R>(_ tls: DicomTLS?, _ body: (cdicom_tls_options) -> R) -> R {
        guard let tls else { return body(cdicom_tls_options(certificate: nil, private_key: nil, trusted: nil)) }
        return tls.certificate.withCString { certificate in
            tls.privateKey.withCString { key in
                guard let trusted = tls.trusted else {
                    return body(cdicom_tls_options(certificate: certificate, private_key: key, trusted: nil))
                }
                return trusted.withCString {
                    body(cdicom_tls_options(certificate: certificate, private_key: key, trusted: $0))
                }
            }
        }
    }
}
