// Shared between the shim's C++ files; never seen by Swift.
#pragma once
#include "cdicom.h"
#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dctk.h"
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

class DcmTLSTransportLayer;

struct cdicom_file {
    DcmFileFormat format;
    std::string path;
    bool headersOnly = false;
    bool nativeReady = false;   // pixel data converted to an uncompressed representation
};

/// A decimal string (DS) of at most 16 characters, as precise as that allows (cdicom_write.cpp).
std::string cdicom_decimal(double value);

/// A writer's failed step; its message becomes the caller's one-line error.
struct CdicomFailure { std::string message; };

/// Throws "what: DCMTK's reason" when a DCMTK call failed.
inline void cdicom_check(const OFCondition &status, const char *what) {
    if (status.bad()) throw CdicomFailure{std::string(what) + ": " + status.text()};
}

/// Copies one line into a caller's buffer (always terminated).
void cdicom_set_error(char *err, size_t errlen, const std::string &message);

/// A C entry point's body: what it returns (0 for a body without a value), or -1 with one
/// line in err when it throws (a CdicomFailure's message, or the exception DCMTK or the C++
/// library threw).
template <class Body> int cdicom_guarded(char *err, size_t errlen, Body body) {
    try {
        if constexpr (std::is_void_v<decltype(body())>) {
            body();
            return 0;
        } else {
            return body();
        }
    } catch (const CdicomFailure &f) {
        cdicom_set_error(err, errlen, f.message);
        return -1;
    } catch (const std::exception &e) {
        cdicom_set_error(err, errlen, std::string("DCMTK: ") + e.what());
        return -1;
    }
}

/// False, with a reason, when the file's sequences and items nest deeper than max_depth; a
/// deflated dataset is walked as it inflates, at most max_inflated bytes (cdicom_nesting.cpp).
bool cdicom_nesting_within(const char *path, int max_depth, size_t max_inflated, std::string &reason);

/// Where a deflated dataset starts (after the meta group), or 0 when the file is not deflated
/// (cdicom_read.cpp).
long cdicom_deflated_dataset_offset(FILE *f);

/// Decodes a JPEG 2000 codestream or JP2 file held in memory to one component of int32 samples.
/// Returns false with a message when OpenJPEG fails or the image is not width × height × 1.
/// isSigned tells whether the codestream itself declares signed samples.
bool cdicom_j2k_decode(const uint8_t *data, size_t length, int width, int height,
                       std::vector<int32_t> &samples, bool &isSigned, std::string &message);

/// Encodes width × height samples losslessly as a JPEG 2000 codestream.
bool cdicom_j2k_encode(const uint16_t *samples, int width, int height, int precision, bool isSigned,
                       std::vector<uint8_t> &codestream, std::string &message);

bool cdicom_is_j2k_syntax(const char *transferSyntaxUID);

/// A TLS layer from the PEM files (nullptr when no certificate is given): the peer's certificate
/// must chain to `trusted` when that is given, and is not asked for otherwise (cdicom_tls.cpp).
std::unique_ptr<DcmTLSTransportLayer> cdicom_tls_layer(const cdicom_tls_options &tls, bool acceptor);
