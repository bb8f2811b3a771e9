// libFuzzer harness for the DICOM reading shim (Sources/Shims/CDicom): every input is written to a
// file and read as the daemon's header worker and decoder read it: open (headers only, then whole),
// attributes, each frame's geometry, and the first frame's pixels when the header's size is
// plausible. Build and run: fuzz/run.sh SECONDS.
#include "cdicom.h"
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>
#include <vector>

static std::string scratch() {
    static std::string path = [] {
        const char *dir = std::getenv("TMPDIR");
        return std::string(dir ? dir : "/tmp") + "/lcovnet-fuzz-" + std::to_string(getpid()) + ".dcm";
    }();
    return path;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const std::string path = scratch();
    FILE *f = std::fopen(path.c_str(), "wb");
    if (!f) return 0;
    std::fwrite(data, 1, size, f);
    std::fclose(f);
    char err[512];
    for (int headersOnly = 1; headersOnly >= 0; headersOnly--) {
        cdicom_file *file = nullptr;
        // The same inflated-size limit as Ingest's (Volumes.Plausibility: 1 GiB).
        if (cdicom_open(path.c_str(), headersOnly, size_t(1) << 30, 128, &file, err, sizeof err) != 0 || !file) return 0;
        cdicom_attributes a;
        if (cdicom_read_attributes(file, &a, err, sizeof err) == 0) {
            int frames = a.number_of_frames < 1 ? 1 : (a.number_of_frames > 64 ? 64 : a.number_of_frames);
            for (int n = 0; n < frames; n++) {
                cdicom_frame_info info;
                cdicom_read_frame_info(file, n, &info, err, sizeof err);
            }
            // Ingest's limits before decoding: at most 4096 × 4096, pixel data as long as declared.
            long long pixels = (long long)a.rows * a.columns;
            if (!headersOnly && a.rows > 0 && a.columns > 0 && pixels <= 4096LL * 4096 && a.samples_per_pixel == 1) {
                std::vector<int32_t> out(static_cast<size_t>(pixels));
                cdicom_decode_frame(file, 0, out.data(), out.size(), err, sizeof err);
            }
        }
        cdicom_close(file);
    }
    return 0;
}
