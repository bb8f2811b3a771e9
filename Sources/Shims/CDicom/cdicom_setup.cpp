// Codec registration and logger configuration, done once per process.
#include "cdicom_internal.hpp"
#include "dcmtk/dcmdata/dcrledrg.h"
#include "dcmtk/dcmdata/dcrleerg.h"
#include "dcmtk/dcmjpeg/djdecode.h"
#include "dcmtk/dcmjpeg/djencode.h"
#include "dcmtk/dcmjpls/djdecode.h"
#include "dcmtk/dcmjpls/djencode.h"
#include "dcmtk/oflog/oflog.h"
#include <cstring>
#include <mutex>

void cdicom_set_error(char *err, size_t errlen, const std::string &message) {
    if (err == nullptr || errlen == 0) return;
    std::string line = message;
    for (char &c : line) if (c == '\n' || c == '\r') c = ' ';
    std::strncpy(err, line.c_str(), errlen - 1);
    err[errlen - 1] = 0;
}

extern "C" void cdicom_initialize(void) {
    static std::once_flag once;
    std::call_once(once, [] {
        // DCMTK logs warnings about odd files to stderr; lcovnet reports problems itself.
        OFLog::configure(OFLogger::OFF_LOG_LEVEL);
        DcmRLEDecoderRegistration::registerCodecs();
        DJDecoderRegistration::registerCodecs();
        DJLSDecoderRegistration::registerCodecs();
        DcmRLEEncoderRegistration::registerCodecs();
        DJEncoderRegistration::registerCodecs();
        DJLSEncoderRegistration::registerCodecs();
    });
}
