// Pixel data of one frame: DCMTK for native and DCMTK-decodable encapsulated syntaxes,
// OpenJPEG for JPEG 2000 (DCMTK's free build has no J2K codec).
#include "cdicom_internal.hpp"
#include "dcmtk/dcmdata/dccodec.h"
#include "dcmtk/dcmdata/dcpixseq.h"
#include "dcmtk/dcmdata/dcpxitem.h"
#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>

namespace {

struct PixelLayout {
    int rows = 0, columns = 0, frames = 1, samples = 1;
    int bitsAllocated = 0, bitsStored = 0, highBit = 0;
    bool isSigned = false;
    size_t frameVoxels() const { return size_t(rows) * size_t(columns); }
};

bool readLayout(DcmDataset *ds, PixelLayout &l, std::string &message) {
    Uint16 u = 0;
    if (ds->findAndGetUint16(DCM_Rows, u).bad() || u == 0) { message = "no Rows"; return false; }
    l.rows = u;
    if (ds->findAndGetUint16(DCM_Columns, u).bad() || u == 0) { message = "no Columns"; return false; }
    l.columns = u;
    if (ds->findAndGetUint16(DCM_SamplesPerPixel, u).good()) l.samples = u;
    if (ds->findAndGetUint16(DCM_BitsAllocated, u).bad()) { message = "no BitsAllocated"; return false; }
    l.bitsAllocated = u;
    l.bitsStored = ds->findAndGetUint16(DCM_BitsStored, u).good() ? u : l.bitsAllocated;
    l.highBit = ds->findAndGetUint16(DCM_HighBit, u).good() ? u : l.bitsStored - 1;
    l.isSigned = ds->findAndGetUint16(DCM_PixelRepresentation, u).good() && u == 1;
    Sint32 frames = 1;
    if (ds->findAndGetSint32(DCM_NumberOfFrames, frames).good() && frames > 0) l.frames = frames;
    if (l.samples != 1) { message = "SamplesPerPixel " + std::to_string(l.samples) + " is not grayscale"; return false; }
    if (l.bitsAllocated != 8 && l.bitsAllocated != 16 && l.bitsAllocated != 32) {
        message = "BitsAllocated " + std::to_string(l.bitsAllocated) + " is not supported"; return false;
    }
    if (l.bitsStored < 1 || l.bitsStored > l.bitsAllocated || l.highBit < l.bitsStored - 1 || l.highBit >= l.bitsAllocated) {
        message = "inconsistent BitsStored/HighBit"; return false;
    }
    return true;
}

/// Applies BitsStored/HighBit and the sign to one raw sample.
inline int32_t storedValue(uint32_t raw, const PixelLayout &l) {
    uint32_t shifted = raw >> (l.highBit + 1 - l.bitsStored);
    uint32_t mask = l.bitsStored >= 32 ? 0xFFFFFFFFu : ((1u << l.bitsStored) - 1u);
    uint32_t v = shifted & mask;
    if (l.isSigned && l.bitsStored < 32 && (v & (1u << (l.bitsStored - 1)))) v |= ~mask;
    return int32_t(v);
}

/// Converts encapsulated pixel data DCMTK can decode to native little endian, once per file.
bool ensureNative(cdicom_file *file, std::string &message) {
    DcmDataset *ds = file->format.getDataset();
    if (!file->nativeReady) {
        DcmXfer original(ds->getOriginalXfer());
        if (original.isEncapsulated()) {
            OFCondition status = ds->chooseRepresentation(EXS_LittleEndianExplicit, nullptr);
            if (status.bad() || !ds->canWriteXfer(EXS_LittleEndianExplicit)) {
                message = std::string("DCMTK cannot decode ") + original.getXferName() + ": " + status.text();
                return false;
            }
        }
        file->nativeReady = true;
    }
    return true;
}

bool decodeNative(cdicom_file *file, int frame, const PixelLayout &l, int32_t *out, std::string &message) {
    DcmDataset *ds = file->format.getDataset();
    if (!ensureNative(file, message)) return false;
    DcmElement *element = nullptr;
    if (ds->findAndGetElement(DCM_PixelData, element).bad() || element == nullptr) { message = "no PixelData"; return false; }
    size_t count = l.frameVoxels();
    size_t first = size_t(frame) * count;
    if (l.bitsAllocated == 8) {
        Uint8 *data = nullptr;
        if (element->getUint8Array(data).bad() || !data) { message = "PixelData cannot be read"; return false; }
        if (element->getLength() < first + count) { message = "PixelData is shorter than Rows × Columns × frames (truncated?)"; return false; }
        for (size_t i = 0; i < count; i++) out[i] = storedValue(data[first + i], l);
    } else if (l.bitsAllocated == 16) {
        Uint16 *data = nullptr;
        if (element->getUint16Array(data).bad() || !data) { message = "PixelData cannot be read"; return false; }
        if (element->getLength() < (first + count) * 2) { message = "PixelData is shorter than Rows × Columns × frames (truncated?)"; return false; }
        if (l.bitsStored == 16 && l.highBit == 15) {
            if (l.isSigned) for (size_t i = 0; i < count; i++) out[i] = int16_t(data[first + i]);
            else for (size_t i = 0; i < count; i++) out[i] = data[first + i];
        } else {
            for (size_t i = 0; i < count; i++) out[i] = storedValue(data[first + i], l);
        }
    } else {
        // 32-bit samples live in an OW element: DCMTK hands out 16-bit words in local order, so
        // each sample is two words, high word first when the file was big endian.
        Uint16 *words = nullptr;
        if (element->getUint16Array(words).bad() || !words) { message = "PixelData cannot be read"; return false; }
        if (element->getLength() < (first + count) * 4) { message = "PixelData is shorter than Rows × Columns × frames (truncated?)"; return false; }
        bool bigEndian = DcmXfer(ds->getOriginalXfer()).getByteOrder() == EBO_BigEndian && !DcmXfer(ds->getOriginalXfer()).isEncapsulated();
        for (size_t i = 0; i < count; i++) {
            uint32_t w0 = words[2 * (first + i)], w1 = words[2 * (first + i) + 1];
            out[i] = storedValue(bigEndian ? (w0 << 16 | w1) : (w1 << 16 | w0), l);
        }
    }
    return true;
}

bool decodeJ2K(cdicom_file *file, int frame, const PixelLayout &l, int32_t *out, std::string &message) {
    DcmDataset *ds = file->format.getDataset();
    DcmElement *element = nullptr;
    if (ds->findAndGetElement(DCM_PixelData, element).bad() || element == nullptr) { message = "no PixelData"; return false; }
    auto *pixelData = OFstatic_cast(DcmPixelData *, element);
    DcmPixelSequence *sequence = nullptr;
    E_TransferSyntax xfer = ds->getOriginalXfer();
    if (pixelData->getEncapsulatedRepresentation(xfer, nullptr, sequence).bad() || !sequence) {
        message = "JPEG 2000 pixel data has no fragments"; return false;
    }
    Uint32 start = 0, next = sequence->card();
    if (DcmCodec::determineStartFragment(frame, l.frames, sequence, start).bad()) {
        message = "cannot find the fragments of frame " + std::to_string(frame + 1); return false;
    }
    if (frame + 1 < l.frames) {
        Uint32 following = 0;
        if (DcmCodec::determineStartFragment(frame + 1, l.frames, sequence, following).good()) next = following;
    }
    std::vector<uint8_t> codestream;
    for (Uint32 index = start; index < next; index++) {
        DcmPixelItem *item = nullptr;
        if (sequence->getItem(item, index).bad() || !item) break;
        Uint8 *bytes = nullptr;
        if (item->getUint8Array(bytes).bad()) continue;
        if (bytes) codestream.insert(codestream.end(), bytes, bytes + item->getLength());
    }
    std::vector<int32_t> samples;
    bool codestreamSigned = false;
    if (!cdicom_j2k_decode(codestream.data(), codestream.size(), l.columns, l.rows, samples, codestreamSigned, message)) {
        return false;
    }
    if (l.isSigned && !codestreamSigned) {
        // Some encoders store signed data as an unsigned codestream; PixelRepresentation wins,
        // as in pydicom: sign-extend from BitsStored.
        PixelLayout packed = l;
        packed.highBit = l.bitsStored - 1;
        for (size_t i = 0; i < samples.size(); i++) out[i] = storedValue(uint32_t(samples[i]), packed);
    } else {
        std::memcpy(out, samples.data(), samples.size() * sizeof(int32_t));
    }
    return true;
}

}  // namespace

bool cdicom_is_j2k_syntax(const char *uid) {
    // JPEG 2000 (lossless, lossy), Part 2 multi-component, and High-Throughput JPEG 2000.
    static const char *uids[] = {"1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.92",
                                 "1.2.840.10008.1.2.4.93", "1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.4.202",
                                 "1.2.840.10008.1.2.4.203"};
    for (const char *candidate : uids) if (std::strcmp(uid, candidate) == 0) return true;
    return false;
}

/// Loads what a headers-only open left on disk.
static bool ensureLoaded(cdicom_file *file, std::string &message) {
    if (file->headersOnly) {
        if (file->format.getDataset()->loadAllDataIntoMemory().bad()) { message = "cannot load pixel data"; return false; }
        file->headersOnly = false;
    }
    return true;
}

/// The fast path for the common case, native 16-bit samples: straight to HU, no int32 copy.
static int decodeNative16ToHU(cdicom_file *file, const PixelLayout &l, int frame, double slope, double intercept,
                       bool flipRows, int16_t *out, size_t *clamped, char *err, size_t errlen) {
    std::string message;
    DcmDataset *ds = file->format.getDataset();
    DcmElement *element = nullptr;
    Uint16 *data = nullptr;
    if (!ensureLoaded(file, message) || !ensureNative(file, message)) { cdicom_set_error(err, errlen, message); return -1; }
    if (ds->findAndGetElement(DCM_PixelData, element).bad() || !element || element->getUint16Array(data).bad() || !data) {
        cdicom_set_error(err, errlen, "PixelData cannot be read"); return -1;
    }
    size_t count = l.frameVoxels(), first = size_t(frame) * count;
    if (element->getLength() < (first + count) * 2) {
        cdicom_set_error(err, errlen, "PixelData is shorter than Rows × Columns × frames (truncated?)"); return -1;
    }
    bool full = l.bitsStored == 16 && l.highBit == 15;
    bool identity = slope == 1.0 && intercept == std::floor(intercept) && std::fabs(intercept) < 1e6;
    int32_t offset = int32_t(intercept);
    size_t outOfRange = 0;
    // Branches hoisted out of the voxel loop so the common cases vectorize.
    auto rows = [&](auto sample, auto map) {
        for (int row = 0; row < l.rows; row++) {
            const Uint16 *source = data + first + size_t(row) * l.columns;
            int16_t *target = out + size_t(flipRows ? l.rows - 1 - row : row) * l.columns;
            for (int c = 0; c < l.columns; c++) {
                int64_t value = map(sample(source[c]));
                int64_t bounded = value < SHRT_MIN ? SHRT_MIN : (value > SHRT_MAX ? SHRT_MAX : value);
                outOfRange += bounded != value;
                target[c] = int16_t(bounded);
            }
        }
    };
    auto shift = [offset](int32_t v) { return int64_t(v) + offset; };
    auto rescale = [slope, intercept](int32_t v) { return int64_t(std::llround(v * slope + intercept)); };
    auto unsignedSample = [](Uint16 v) { return int32_t(v); };
    auto signedSample = [](Uint16 v) { return int32_t(int16_t(v)); };
    auto maskedSample = [&l](Uint16 v) { return storedValue(v, l); };
    if (full && !l.isSigned) identity ? rows(unsignedSample, shift) : rows(unsignedSample, rescale);
    else if (full) identity ? rows(signedSample, shift) : rows(signedSample, rescale);
    else identity ? rows(maskedSample, shift) : rows(maskedSample, rescale);
    if (clamped) *clamped = outOfRange;
    return 0;
}

extern "C" int cdicom_decode_frame(cdicom_file *file, int frame, int32_t *out, size_t count, char *err, size_t errlen) {
    DcmDataset *ds = file->format.getDataset();
    if (!ds) { cdicom_set_error(err, errlen, "the file has no dataset"); return -1; }
    PixelLayout layout;
    std::string message;
    if (!readLayout(ds, layout, message)) { cdicom_set_error(err, errlen, message); return -1; }
    if (frame < 0 || frame >= layout.frames) { cdicom_set_error(err, errlen, "frame out of range"); return -1; }
    if (count < layout.frameVoxels()) { cdicom_set_error(err, errlen, "output buffer too small"); return -1; }
    if (!ensureLoaded(file, message)) { cdicom_set_error(err, errlen, message); return -1; }
    OFString xferUID = DcmXfer(ds->getOriginalXfer()).getXferID();
    bool ok = cdicom_is_j2k_syntax(xferUID.c_str()) ? decodeJ2K(file, frame, layout, out, message)
                                                    : decodeNative(file, frame, layout, out, message);
    if (!ok) { cdicom_set_error(err, errlen, message); return -1; }
    return 0;
}

extern "C" int cdicom_decode_frame_hu(cdicom_file *file, int frame, double slope, double intercept, int flip_rows,
                                      int16_t *out, size_t count, size_t *clamped, char *err, size_t errlen) {
    DcmDataset *ds = file->format.getDataset();
    Uint16 rows = 0, columns = 0;
    if (!ds || ds->findAndGetUint16(DCM_Rows, rows).bad() || ds->findAndGetUint16(DCM_Columns, columns).bad()) {
        cdicom_set_error(err, errlen, "no Rows/Columns"); return -1;
    }
    size_t voxels = size_t(rows) * columns;
    if (count < voxels) { cdicom_set_error(err, errlen, "output buffer too small"); return -1; }
    PixelLayout layout;
    std::string message;
    if (!readLayout(ds, layout, message)) { cdicom_set_error(err, errlen, message); return -1; }
    if (frame < 0 || frame >= layout.frames) { cdicom_set_error(err, errlen, "frame out of range"); return -1; }
    OFString xferUID = DcmXfer(ds->getOriginalXfer()).getXferID();
    if (layout.bitsAllocated == 16 && !cdicom_is_j2k_syntax(xferUID.c_str())) {
        return decodeNative16ToHU(file, layout, frame, slope, intercept, flip_rows != 0, out, clamped, err, errlen);
    }
    std::vector<int32_t> stored(voxels);
    if (cdicom_decode_frame(file, frame, stored.data(), voxels, err, errlen) != 0) return -1;
    size_t outOfRange = 0;
    bool identity = slope == 1.0 && intercept == std::floor(intercept);
    int32_t offset = int32_t(intercept);
    for (int row = 0; row < rows; row++) {
        const int32_t *source = stored.data() + size_t(row) * columns;
        int16_t *target = out + size_t(flip_rows ? rows - 1 - row : row) * columns;
        for (int c = 0; c < columns; c++) {
            long value = identity ? long(source[c]) + offset : std::lround(source[c] * slope + intercept);
            if (value < SHRT_MIN) { value = SHRT_MIN; outOfRange++; }
            if (value > SHRT_MAX) { value = SHRT_MAX; outOfRange++; }
            target[c] = int16_t(value);
        }
    }
    if (clamped) *clamped = outOfRange;
    return 0;
}
