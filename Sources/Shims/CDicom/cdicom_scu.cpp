// Sending result objects to a DICOM peer with C-STORE (DCMTK dcmnet), for the daemon's outbox.
#include "cdicom_internal.hpp"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmnet/scu.h"
#include "dcmtk/dcmtls/tlslayer.h"
#include <algorithm>
#include <string>
#include <vector>

namespace {

/// DcmSCU with its TLS hook public (protected in DCMTK 3.6.7; DcmTLSSCU would bring its own key handling).
class SCU : public DcmSCU {
  public:
    using DcmSCU::useSecureConnection;
};

/// The SOP class of a file, read from its meta header and dataset.
std::string sopClassOf(const char *path) {
    DcmFileFormat file;
    if (file.loadFile(path, EXS_Unknown, EGL_noChange, 4096).bad()) throw CdicomFailure{std::string("cannot read ") + path};
    OFString uid;
    file.getDataset()->findAndGetOFString(DCM_SOPClassUID, uid);
    if (uid.empty()) throw CdicomFailure{std::string(path) + " has no SOP Class UID"};
    return uid.c_str();
}

}  // namespace

extern "C" int cdicom_send_files(const cdicom_scu_options *o, const char *const *files, int count, int *statuses,
                                 char *err, size_t errlen) {
    return cdicom_guarded(err, errlen, [&] {
        SCU scu;
        scu.setAETitle(o->calling_ae_title);
        scu.setPeerAETitle(o->called_ae_title);
        scu.setPeerHostName(o->host);
        scu.setPeerPort(OFstatic_cast(Uint16, o->port));
        scu.setMaxReceivePDULength(o->max_pdu);
        scu.setACSETimeout(o->acse_timeout_seconds);
        scu.setDIMSETimeout(o->dimse_timeout_seconds);
        scu.setDIMSEBlockingMode(DIMSE_NONBLOCKING);
        // One presentation context per SOP class, in explicit VR little endian (what the writers use).
        OFList<OFString> syntaxes;
        syntaxes.push_back(UID_LittleEndianExplicitTransferSyntax);
        std::vector<std::string> classes;
        for (int i = 0; i < count; i++) {
            std::string sop = sopClassOf(files[i]);
            if (std::find(classes.begin(), classes.end(), sop) == classes.end()) {
                classes.push_back(sop);
                cdicom_check(scu.addPresentationContext(sop.c_str(), syntaxes), "presentation context");
            }
        }
        std::unique_ptr<DcmTLSTransportLayer> tls = cdicom_tls_layer(o->tls, false);
        cdicom_check(scu.initNetwork(), "network");
        if (tls) cdicom_check(scu.useSecureConnection(tls.get()), "TLS");
        OFCondition negotiated = scu.negotiateAssociation();
        if (negotiated.bad()) {
            cdicom_set_error(err, errlen, std::string("association with ") + o->called_ae_title + " at " + o->host + ":" +
                                          std::to_string(o->port) + " failed: " + negotiated.text());
            return CDICOM_SCU_UNREACHABLE;
        }
        int failures = 0;
        for (int i = 0; i < count; i++) {
            T_ASC_PresentationContextID context = scu.findPresentationContextID(sopClassOf(files[i]).c_str(), UID_LittleEndianExplicitTransferSyntax);
            Uint16 status = 0xFFFF;
            if (context == 0) { statuses[i] = 0x0122; failures++; continue; }   // SOP class not supported by the peer
            OFCondition sent = scu.sendSTORERequest(context, files[i], nullptr, status);
            if (sent.bad()) {
                cdicom_set_error(err, errlen, std::string("C-STORE to ") + o->called_ae_title + " broke off: " + sent.text());
                for (int j = i; j < count; j++) statuses[j] = -1;
                scu.abortAssociation();
                return CDICOM_SCU_UNREACHABLE;
            }
            statuses[i] = status;
            // Success and the warnings (0xB000, 0xB007, 0xB006) mean the peer holds the object.
            if (!(status == 0 || (status & 0xF000) == 0xB000)) failures++;
        }
        scu.releaseAssociation();
        if (failures) cdicom_set_error(err, errlen, std::to_string(failures) + " object(s) refused by " + o->called_ae_title);
        return 0;
    });
}
