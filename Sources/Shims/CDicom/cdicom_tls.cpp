// DICOM over TLS (DCMTK dcmtls, OpenSSL) for the storage SCP and the outbox's SCU.
#include "cdicom_internal.hpp"
#include "dcmtk/dcmtls/tlslayer.h"

std::unique_ptr<DcmTLSTransportLayer> cdicom_tls_layer(const cdicom_tls_options &tls, bool acceptor) {
    if (!tls.certificate || !*tls.certificate) return nullptr;
    auto layer = std::make_unique<DcmTLSTransportLayer>(acceptor ? NET_ACCEPTOR : NET_REQUESTOR, nullptr, OFTrue);
    cdicom_check(layer->setTLSProfile(TSP_Profile_BCP195), "TLS profile");
    cdicom_check(layer->activateCipherSuites(), "TLS cipher suites");
    cdicom_check(layer->setPrivateKeyFile(tls.private_key, DCF_Filetype_PEM), (std::string("TLS private key ") + tls.private_key).c_str());
    cdicom_check(layer->setCertificateFile(tls.certificate, DCF_Filetype_PEM), (std::string("TLS certificate ") + tls.certificate).c_str());
    if (!layer->checkPrivateKeyMatchesCertificate())
        throw CdicomFailure{std::string("the TLS private key does not match the certificate ") + tls.certificate};
    if (tls.trusted && *tls.trusted) {
        cdicom_check(layer->addTrustedCertificateFile(tls.trusted, DCF_Filetype_PEM),
                     (std::string("TLS trusted certificates ") + tls.trusted).c_str());
        layer->setCertificateVerification(DCV_requireCertificate);
    } else {
        layer->setCertificateVerification(DCV_ignoreCertificate);
    }
    return layer;
}
