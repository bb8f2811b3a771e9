// The storage SCP built into `lcovnet serve` (DCMTK dcmnet), run in a child process of its own.
#include "cdicom_internal.hpp"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmnet/diutil.h"
#include "dcmtk/dcmnet/dul.h"
#include "dcmtk/dcmnet/scp.h"
#include "dcmtk/dcmtls/tlslayer.h"
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <vector>

namespace {

/// The transfer syntaxes ingest decodes and the tests cover (DicomTransferSyntax), preferred first.
const char *const acceptedSyntaxes[] = {
    UID_LittleEndianExplicitTransferSyntax, UID_LittleEndianImplicitTransferSyntax, UID_BigEndianExplicitTransferSyntax,
    UID_DeflatedExplicitVRLittleEndianTransferSyntax, UID_RLELosslessTransferSyntax, UID_JPEGProcess14SV1TransferSyntax,
    UID_JPEGLSLosslessTransferSyntax, UID_JPEG2000LosslessOnlyTransferSyntax,
};

/// A UID usable as a file name: digits and dots, at most 64 characters, not "." or "..".
bool isPlainUID(const std::string &uid) {
    if (uid.empty() || uid.size() > 64 || uid == "." || uid == "..") return false;
    for (char c : uid) if (!(c == '.' || (c >= '0' && c <= '9'))) return false;
    return true;
}

bool syncPath(const std::string &path, int flags) {
    int fd = ::open(path.c_str(), flags | O_CLOEXEC);
    if (fd < 0) return false;
    bool ok = ::fsync(fd) == 0;
    ::close(fd);
    return ok;
}

class StorageSCP : public DcmSCP {
  public:
    explicit StorageSCP(const cdicom_scp_options &o) : options(o) {
        for (int i = 0; i < o.accepted_count; i++) accepted.emplace_back(o.accepted_calling[i]);
    }

  protected:
    OFBool checkCallingAETitleAccepted(const OFString &callingAE) override {
        if (accepted.empty()) return OFTrue;
        for (const auto &a : accepted) if (a == callingAE.c_str()) return OFTrue;
        report(CDICOM_SCP_REFUSED, "calling AE title '" + std::string(callingAE.c_str()) + "' is not accepted");
        return OFFalse;
    }

    void notifyAssociationRequest(const T_ASC_Parameters &params, DcmSCPActionType &desiredAction) override {
        struct statvfs fs;
        if (options.minimum_free_bytes && ::statvfs(options.intake, &fs) == 0 &&
            (unsigned long long)fs.f_bavail * fs.f_frsize < options.minimum_free_bytes) {
            report(CDICOM_SCP_REFUSED, "the intake's disk is below its free-space watermark");
            desiredAction = DCMSCP_ACTION_REFUSE_ASSOCIATION;
        }
        (void)params;
    }

    /// One association per accepted connection (the caller's accept loop hands each over).
    OFBool stopAfterCurrentAssociation() override { return OFTrue; }

    void notifyAssociationAcknowledge() override { report(CDICOM_SCP_ASSOCIATION, getPeerAETitle().c_str()); }
    void notifyAssociationTermination() override { report(CDICOM_SCP_RELEASED, getPeerAETitle().c_str()); }

    OFCondition handleIncomingCommand(T_DIMSE_Message *message, const DcmPresentationContextInfo &context) override {
        if (message->CommandField == DIMSE_C_ECHO_RQ) return handleECHORequest(message->msg.CEchoRQ, context.presentationContextID);
        if (message->CommandField != DIMSE_C_STORE_RQ) return DIMSE_BADCOMMANDTYPE;
        T_DIMSE_C_StoreRQ &request = message->msg.CStoreRQ;
        // Received straight into a hidden file (no dataset in memory, whatever size it claims).
        const std::string partial = std::string(options.intake) + "/.receiving-" + std::to_string(::getpid()) + "-" +
                                    std::to_string(++counter) + ".partial";
        OFCondition received = receiveSTORERequest(request, context.presentationContextID, partial.c_str());
        if (received.bad()) {
            ::unlink(partial.c_str());
            report(CDICOM_SCP_STORE_FAILED, std::string("receiving an instance failed: ") + received.text());
            return received;
        }
        std::string where, reason;
        Uint16 status = place(request, partial, where, reason);
        if (status == STATUS_Success) report(CDICOM_SCP_STORED, where);
        else { ::unlink(partial.c_str()); report(CDICOM_SCP_STORE_FAILED, reason); }
        return sendSTOREResponse(context.presentationContextID, request, status);
    }

  public:
    void reportFailure(const std::string &reason) const { report(CDICOM_SCP_STORE_FAILED, reason); }

  private:
    /// Moves a received file to intake/<series>/<instance>.dcm, durably; the DIMSE status to answer.
    Uint16 place(const T_DIMSE_C_StoreRQ &request, const std::string &partial, std::string &where, std::string &reason) {
        DcmFileFormat file;
        if (file.loadFile(partial.c_str(), EXS_Unknown, EGL_noChange, 4096).bad()) {
            reason = "an instance is not readable DICOM";
            return STATUS_STORE_Error_CannotUnderstand;
        }
        OFString series, instance;
        file.getDataset()->findAndGetOFString(DCM_SeriesInstanceUID, series);
        file.getDataset()->findAndGetOFString(DCM_SOPInstanceUID, instance);
        if (instance != request.AffectedSOPInstanceUID) {
            reason = "an instance's SOP Instance UID differs from its C-STORE request's";
            return STATUS_STORE_Error_DataSetDoesNotMatchSOPClass;
        }
        // Names from UIDs only when they are plain UIDs; ingest reads the real ones from the file.
        const std::string folder = std::string(options.intake) + "/" + (isPlainUID(series.c_str()) ? series.c_str() : "unnamed-series");
        const std::string name = isPlainUID(instance.c_str()) ? std::string(instance.c_str()) : "instance-" + std::to_string(counter);
        const bool created = ::mkdir(folder.c_str(), 0750) == 0;
        if (!created && errno != EEXIST) {
            reason = std::string("cannot create a series folder in the intake: ") + std::strerror(errno);
            return STATUS_STORE_Refused_OutOfResources;
        }
        where = folder.substr(std::strlen(options.intake) + 1) + "/" + name + ".dcm";
        const std::string final = std::string(options.intake) + "/" + where;
        // The file, its name in the series folder, and a new series folder's name in the intake.
        if (!syncPath(partial, O_RDONLY) || ::rename(partial.c_str(), final.c_str()) != 0 || !syncPath(folder, O_RDONLY | O_DIRECTORY) ||
            (created && !syncPath(options.intake, O_RDONLY | O_DIRECTORY))) {
            reason = std::string("cannot store an instance durably: ") + std::strerror(errno);
            return STATUS_STORE_Refused_OutOfResources;
        }
        return STATUS_Success;
    }

    void report(int kind, const std::string &text) const {
        if (options.event) options.event(options.context, kind, text.c_str());
    }

    const cdicom_scp_options &options;
    std::vector<std::string> accepted;
    unsigned long counter = 0;
};

}  // namespace

extern "C" int cdicom_run_storage_scp(const cdicom_scp_options *options, char *err, size_t errlen) {
    return cdicom_guarded(err, errlen, [&] {
        dcmDisableGethostbyaddr.set(OFTrue);                   // no reverse DNS per association
        StorageSCP scp(*options);
        DcmSCPConfig &config = scp.getConfig();
        config.setAETitle(options->ae_title);
        config.setPort(1);   // unused: each connection is handed over already accepted
        config.setMaxReceivePDULength(options->max_pdu);
        config.setACSETimeout(options->acse_timeout_seconds);
        config.setDIMSETimeout(options->dimse_timeout_seconds);
        config.setConnectionBlockingMode(DUL_NOBLOCK);
        config.setHostLookupEnabled(OFFalse);
        std::unique_ptr<DcmTLSTransportLayer> tls = cdicom_tls_layer(options->tls, true);
        if (tls) config.setTransportLayer(tls.get());
        OFList<OFString> syntaxes;
        for (const char *uid : acceptedSyntaxes) syntaxes.push_back(uid);
        OFList<OFString> echo;
        echo.push_back(UID_LittleEndianImplicitTransferSyntax);
        echo.push_back(UID_LittleEndianExplicitTransferSyntax);
        cdicom_check(config.addPresentationContext(UID_VerificationSOPClass, echo), "verification");
        cdicom_check(config.addPresentationContext(UID_CTImageStorage, syntaxes), "CT image storage");
        // The caller bound the address it was told (DCMTK 3.6.7 binds every interface); each
        // connection accepted here is one association, served to its end before the next.
        for (;;) {
            int connection = ::accept4(options->listen_socket, nullptr, nullptr, SOCK_CLOEXEC);
            if (connection < 0) {
                if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE) continue;
                throw CdicomFailure{std::string("accept: ") + std::strerror(errno)};
            }
            dcmExternalSocketHandle.set(connection);
            OFCondition status = scp.listen();
            if (status.bad() && status != NET_EC_StopAfterAssociation)
                scp.reportFailure(std::string("an association failed: ") + status.text());
            ::close(connection);
        }
    });
}
