// JPEG 2000 through OpenJPEG, from and to memory buffers.
#include "cdicom_internal.hpp"
#include <openjpeg.h>
#include <algorithm>
#include <cstring>

namespace {

struct MemoryReader { const uint8_t *data; size_t length; size_t position; };
struct MemoryWriter { std::vector<uint8_t> *bytes; size_t position; };

OPJ_SIZE_T readBytes(void *buffer, OPJ_SIZE_T count, void *user) {
    auto *r = static_cast<MemoryReader *>(user);
    if (r->position >= r->length) return OPJ_SIZE_T(-1);
    size_t n = std::min(size_t(count), r->length - r->position);
    std::memcpy(buffer, r->data + r->position, n);
    r->position += n;
    return n;
}
OPJ_OFF_T skipBytes(OPJ_OFF_T count, void *user) {
    auto *r = static_cast<MemoryReader *>(user);
    OPJ_OFF_T target = std::clamp<OPJ_OFF_T>(OPJ_OFF_T(r->position) + count, 0, OPJ_OFF_T(r->length));
    OPJ_OFF_T moved = target - OPJ_OFF_T(r->position);
    r->position = size_t(target);
    return moved;
}
OPJ_BOOL seekBytes(OPJ_OFF_T position, void *user) {
    auto *r = static_cast<MemoryReader *>(user);
    if (position < 0 || size_t(position) > r->length) return OPJ_FALSE;
    r->position = size_t(position);
    return OPJ_TRUE;
}

OPJ_SIZE_T writeBytes(void *buffer, OPJ_SIZE_T count, void *user) {
    auto *w = static_cast<MemoryWriter *>(user);
    if (w->bytes->size() < w->position + count) w->bytes->resize(w->position + count);
    std::memcpy(w->bytes->data() + w->position, buffer, count);
    w->position += count;
    return count;
}
OPJ_OFF_T skipWrite(OPJ_OFF_T count, void *user) {
    auto *w = static_cast<MemoryWriter *>(user);
    w->position += size_t(count);
    if (w->bytes->size() < w->position) w->bytes->resize(w->position);
    return count;
}
OPJ_BOOL seekWrite(OPJ_OFF_T position, void *user) {
    auto *w = static_cast<MemoryWriter *>(user);
    w->position = size_t(position);
    if (w->bytes->size() < w->position) w->bytes->resize(w->position);
    return OPJ_TRUE;
}

/// Keeps OpenJPEG's last error message instead of printing it.
void keepMessage(const char *message, void *user) {
    auto *text = static_cast<std::string *>(user);
    *text = message ? message : "";
    while (!text->empty() && (text->back() == '\n' || text->back() == ' ')) text->pop_back();
}
void ignoreMessage(const char *, void *) {}

}  // namespace

bool cdicom_j2k_decode(const uint8_t *data, size_t length, int width, int height,
                       std::vector<int32_t> &samples, bool &isSigned, std::string &message) {
    if (length < 12) { message = "JPEG 2000 frame is empty"; return false; }
    static const uint8_t jp2Signature[] = {0, 0, 0, 0x0C, 'j', 'P', ' ', ' '};
    OPJ_CODEC_FORMAT format = std::memcmp(data, jp2Signature, 8) == 0 ? OPJ_CODEC_JP2 : OPJ_CODEC_J2K;
    opj_codec_t *codec = opj_create_decompress(format);
    std::string opjError;
    opj_set_error_handler(codec, keepMessage, &opjError);
    opj_set_warning_handler(codec, ignoreMessage, nullptr);
    opj_set_info_handler(codec, ignoreMessage, nullptr);
    opj_dparameters_t parameters;
    opj_set_default_decoder_parameters(&parameters);
    MemoryReader reader{data, length, 0};
    opj_stream_t *stream = opj_stream_create(1 << 16, OPJ_TRUE);
    opj_stream_set_user_data(stream, &reader, nullptr);
    opj_stream_set_user_data_length(stream, length);
    opj_stream_set_read_function(stream, readBytes);
    opj_stream_set_skip_function(stream, skipBytes);
    opj_stream_set_seek_function(stream, seekBytes);
    opj_image_t *image = nullptr;
    bool ok = opj_setup_decoder(codec, &parameters) && opj_read_header(stream, codec, &image);
    // OpenJPEG sizes its buffers from the codestream's own header: it must declare the frame
    // the DICOM attributes promise (already within the plausibility limits) before decoding.
    bool declared = ok && image && image->numcomps >= 1 && image->x1 > image->x0 && image->y1 > image->y0
                    && image->x1 - image->x0 == OPJ_UINT32(width) && image->y1 - image->y0 == OPJ_UINT32(height);
    if (ok && !declared) {
        message = "the JPEG 2000 codestream declares " + (image ? std::to_string(image->x1 - image->x0) + "×" + std::to_string(image->y1 - image->y0)
                                                                : std::string("no size"))
                  + " pixels, not the frame's " + std::to_string(width) + "×" + std::to_string(height);
        ok = false;
    } else if (ok) {
        ok = opj_decode(codec, stream, image) && opj_end_decompress(codec, stream);
    }
    if (!ok) {
        if (message.empty()) message = "OpenJPEG cannot decode the JPEG 2000 frame" + (opjError.empty() ? "" : ": " + opjError);
    } else if (image->numcomps < 1 || int(image->comps[0].w) != width || int(image->comps[0].h) != height) {
        message = "the JPEG 2000 frame is not " + std::to_string(width) + "×" + std::to_string(height);
        ok = false;
    } else {
        samples.assign(image->comps[0].data, image->comps[0].data + size_t(width) * height);
        isSigned = image->comps[0].sgnd != 0;
    }
    if (image) opj_image_destroy(image);
    opj_stream_destroy(stream);
    opj_destroy_codec(codec);
    return ok;
}

bool cdicom_j2k_encode(const uint16_t *samples, int width, int height, int precision, bool isSigned,
                       std::vector<uint8_t> &codestream, std::string &message) {
    opj_cparameters_t parameters;
    opj_set_default_encoder_parameters(&parameters);
    parameters.irreversible = 0;   // the 5/3 reversible wavelet: lossless
    parameters.tcp_numlayers = 1;
    parameters.tcp_rates[0] = 0;
    parameters.cp_disto_alloc = 1;
    int smallest = std::min(width, height), resolutions = 1;
    while (resolutions < 6 && (smallest >> resolutions) >= 1) resolutions++;
    parameters.numresolution = resolutions;
    opj_image_cmptparm_t component;
    std::memset(&component, 0, sizeof component);
    component.dx = component.dy = 1;
    component.w = width;
    component.h = height;
    component.prec = precision;
    component.sgnd = isSigned ? 1 : 0;
    opj_image_t *image = opj_image_create(1, &component, OPJ_CLRSPC_GRAY);
    if (!image) { message = "OpenJPEG cannot allocate the image"; return false; }
    image->x0 = image->y0 = 0;
    image->x1 = width;
    image->y1 = height;
    size_t count = size_t(width) * height;
    for (size_t i = 0; i < count; i++) image->comps[0].data[i] = isSigned ? int16_t(samples[i]) : samples[i];
    opj_codec_t *codec = opj_create_compress(OPJ_CODEC_J2K);
    std::string opjError;
    opj_set_error_handler(codec, keepMessage, &opjError);
    opj_set_warning_handler(codec, ignoreMessage, nullptr);
    opj_set_info_handler(codec, ignoreMessage, nullptr);
    codestream.clear();
    MemoryWriter writer{&codestream, 0};
    opj_stream_t *stream = opj_stream_create(1 << 16, OPJ_FALSE);
    opj_stream_set_user_data(stream, &writer, nullptr);
    opj_stream_set_write_function(stream, writeBytes);
    opj_stream_set_skip_function(stream, skipWrite);
    opj_stream_set_seek_function(stream, seekWrite);
    bool ok = opj_setup_encoder(codec, &parameters, image) && opj_start_compress(codec, image, stream)
              && opj_encode(codec, stream) && opj_end_compress(codec, stream);
    if (!ok) message = "OpenJPEG cannot encode the frame" + (opjError.empty() ? "" : ": " + opjError);
    opj_stream_destroy(stream);
    opj_destroy_codec(codec);
    opj_image_destroy(image);
    return ok;
}
