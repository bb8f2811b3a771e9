// Opening files and reading the attributes series assembly needs.
#include "cdicom_internal.hpp"
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <cstdint>
#include <zlib.h>

namespace {

/// DCMTK parses almost any bytes as an implicit little-endian dataset; accept only Part 10 files
/// ("DICM" at 128) and raw datasets whose first tag is in group 0002 or 0008.
bool looksLikeDicom(const char *path, std::string &reason) {
    FILE *f = std::fopen(path, "rb");
    if (!f) { reason = std::strerror(errno); return false; }
    unsigned char head[132] = {0};
    size_t n = std::fread(head, 1, sizeof head, f);
    std::fclose(f);
    if (n == 132 && std::memcmp(head + 128, "DICM", 4) == 0) return true;
    if (n >= 8) {
        unsigned group = head[0] | (head[1] << 8);
        unsigned element = head[2] | (head[3] << 8);
        if ((group == 0x0002 || group == 0x0008) && element < 0x0100) return true;
        // A big-endian dataset without meta information.
        unsigned bigGroup = (head[0] << 8) | head[1];
        unsigned bigElement = (head[2] << 8) | head[3];
        if (bigGroup == 0x0008 && bigElement < 0x0100) return true;
    }
    reason = n == 0 ? "the file is empty" : "not a DICOM file (no DICM marker, no DICOM tag at the start)";
    return false;
}

/// Copies a string value, cut to the buffer; returns false when it had to be cut.
bool copyString(DcmItem *item, const DcmTagKey &key, char *out, size_t size, bool allValues = false) {
    out[0] = 0;
    if (!item) return true;
    OFString value;
    OFCondition status = allValues ? item->findAndGetOFStringArray(key, value) : item->findAndGetOFString(key, value);
    if (status.good()) {
        std::strncpy(out, value.c_str(), size - 1);
        out[size - 1] = 0;
        return value.size() < size;
    }
    return true;
}

bool readInt(DcmItem *item, const DcmTagKey &key, int &out) {
    if (!item) return false;
    // IS values are strings; US values are numbers: try both.
    Sint32 s = 0;
    if (item->findAndGetSint32(key, s).good()) { out = s; return true; }
    Uint16 u = 0;
    if (item->findAndGetUint16(key, u).good()) { out = u; return true; }
    return false;
}

bool readDoubles(DcmItem *item, const DcmTagKey &key, double *out, unsigned long count) {
    if (!item) return false;
    for (unsigned long i = 0; i < count; i++) {
        Float64 v = 0;
        if (item->findAndGetFloat64(key, v, i).bad() || !std::isfinite(v)) return false;
        out[i] = v;
    }
    return true;
}

/// Reads the geometry attributes present in one item, leaving the others as they were.
void mergeFrameInfo(DcmItem *item, cdicom_frame_info *info) {
    if (!item) return;
    double v[6];
    if (readDoubles(item, DCM_ImagePositionPatient, v, 3)) {
        info->has_position = 1; std::memcpy(info->position, v, sizeof(double) * 3);
    }
    if (readDoubles(item, DCM_ImageOrientationPatient, v, 6)) {
        info->has_orientation = 1; std::memcpy(info->orientation, v, sizeof(double) * 6);
    }
    if (readDoubles(item, DCM_PixelSpacing, v, 2)) {
        info->has_pixel_spacing = 1; std::memcpy(info->pixel_spacing, v, sizeof(double) * 2);
    }
    if (readDoubles(item, DCM_SliceThickness, v, 1)) {
        info->has_slice_thickness = 1; info->slice_thickness = v[0];
    }
    double slope, intercept;
    if (readDoubles(item, DCM_RescaleSlope, &slope, 1) && readDoubles(item, DCM_RescaleIntercept, &intercept, 1)) {
        info->has_rescale = 1; info->rescale_slope = slope; info->rescale_intercept = intercept;
    }
}

DcmItem *sequenceItem(DcmItem *item, const DcmTagKey &key, int index) {
    DcmItem *found = nullptr;
    if (item && item->findAndGetSequenceItem(key, found, index).good()) return found;
    return nullptr;
}

/// A functional group item holds its attributes in one-item sequences.
void mergeFunctionalGroup(DcmItem *group, cdicom_frame_info *info) {
    if (!group) return;
    mergeFrameInfo(sequenceItem(group, DCM_PlanePositionSequence, 0), info);
    mergeFrameInfo(sequenceItem(group, DCM_PlaneOrientationSequence, 0), info);
    mergeFrameInfo(sequenceItem(group, DCM_PixelMeasuresSequence, 0), info);
    mergeFrameInfo(sequenceItem(group, DCM_PixelValueTransformationSequence, 0), info);
}

}  // namespace

/// The offset where the dataset starts when a Part 10 file's meta information names the deflated
/// transfer syntax; 0 for every other file (or a meta group that cannot be walked).
long cdicom_deflated_dataset_offset(FILE *f) {
    unsigned char head[132];
    if (std::fread(head, 1, sizeof head, f) != sizeof head || std::memcmp(head + 128, "DICM", 4) != 0) return 0;
    long offset = 132;
    bool deflated = false;
    for (int elements = 0; elements < 64; elements++) {
        unsigned char tag[8];
        if (std::fseek(f, offset, SEEK_SET) != 0 || std::fread(tag, 1, 8, f) != 8) return 0;
        unsigned group = tag[0] | (tag[1] << 8), element = tag[2] | (tag[3] << 8);
        if (group != 0x0002) break;
        char vr[3] = {char(tag[4]), char(tag[5]), 0};
        unsigned long length;
        long header;
        if (!std::strcmp(vr, "OB") || !std::strcmp(vr, "OW") || !std::strcmp(vr, "UN") || !std::strcmp(vr, "SQ")
            || !std::strcmp(vr, "UT") || !std::strcmp(vr, "UC") || !std::strcmp(vr, "UR") || !std::strcmp(vr, "OF")) {
            unsigned char l[4];
            if (std::fread(l, 1, 4, f) != 4) return 0;
            length = l[0] | (l[1] << 8) | (l[2] << 16) | (unsigned long)(l[3]) << 24;
            header = 12;
        } else {
            length = tag[6] | (tag[7] << 8);
            header = 8;
        }
        if (length > (1u << 20)) return 0;
        if (element == 0x0010) {
            char uid[80] = {0};
            size_t n = std::min<unsigned long>(length, sizeof uid - 1);
            if (std::fseek(f, offset + header, SEEK_SET) != 0 || std::fread(uid, 1, n, f) != n) return 0;
            while (n > 0 && (uid[n - 1] == 0 || uid[n - 1] == ' ')) uid[--n] = 0;
            deflated = std::strcmp(uid, "1.2.840.10008.1.2.1.99") == 0;
        }
        offset += header + long(length);
    }
    return deflated ? offset : 0;
}

namespace {

/// Inflates a deflated dataset into a scratch buffer, counting bytes: true when it stays
/// within `limit` (or is not deflated, or is damaged: DCMTK reports that).
bool inflatesWithin(const char *path, size_t limit, std::string &reason) {
    FILE *f = std::fopen(path, "rb");
    if (!f) return true;
    long offset = cdicom_deflated_dataset_offset(f);
    if (offset == 0 || std::fseek(f, offset, SEEK_SET) != 0) { std::fclose(f); return true; }
    z_stream z;
    std::memset(&z, 0, sizeof z);
    if (inflateInit2(&z, -MAX_WBITS) != Z_OK) { std::fclose(f); return true; }
    std::vector<unsigned char> in(1 << 16), out(1 << 18);
    size_t total = 0;
    bool within = true;
    int status = Z_OK;
    while (status != Z_STREAM_END) {
        if (z.avail_in == 0) {
            size_t n = std::fread(in.data(), 1, in.size(), f);
            if (n == 0) break;
            z.next_in = in.data();
            z.avail_in = uInt(n);
        }
        z.next_out = out.data();
        z.avail_out = uInt(out.size());
        status = inflate(&z, Z_NO_FLUSH);
        if (status != Z_OK && status != Z_STREAM_END) break;
        total += out.size() - z.avail_out;
        if (total > limit) { within = false; break; }
    }
    inflateEnd(&z);
    std::fclose(f);
    if (!within) {
        reason = "the deflated dataset inflates to more than " + std::to_string(limit) + " bytes (stopped counting there)";
    }
    return within;
}

}  // namespace

extern "C" int cdicom_open(const char *path, int headers_only, size_t max_inflated_bytes, int max_nesting,
                           cdicom_file **out, char *err, size_t errlen) {
    cdicom_initialize();
    *out = nullptr;
    std::string reason;
    if (!looksLikeDicom(path, reason)) { cdicom_set_error(err, errlen, reason); return -1; }
    if (!inflatesWithin(path, max_inflated_bytes, reason)) { cdicom_set_error(err, errlen, reason); return -2; }
    if (!cdicom_nesting_within(path, max_nesting, max_inflated_bytes, reason)) { cdicom_set_error(err, errlen, reason); return -3; }
    auto *file = new cdicom_file();
    file->path = path;
    file->headersOnly = headers_only != 0;
    // Values over 4 KiB stay on disk while scanning (DCMTK loads them when asked); a full open
    // reads everything in one pass instead of reopening the file for the pixel data.
    Uint32 maxRead = headers_only ? 4096 : OFstatic_cast(Uint32, -1);
    OFCondition status = file->format.loadFile(path, EXS_Unknown, EGL_noChange, maxRead, ERM_autoDetect);
    if (status.bad()) {
        cdicom_set_error(err, errlen, std::string("DCMTK cannot parse it: ") + status.text());
        delete file;
        return -1;
    }
    *out = file;
    return 0;
}

extern "C" void cdicom_close(cdicom_file *file) { delete file; }

extern "C" int cdicom_read_attributes(cdicom_file *file, cdicom_attributes *a, char *err, size_t errlen) {
    std::memset(a, 0, sizeof *a);
    DcmMetaInfo *meta = file->format.getMetaInfo();
    DcmDataset *ds = file->format.getDataset();
    if (!ds) { cdicom_set_error(err, errlen, "the file has no dataset"); return -1; }
    copyString(meta, DCM_TransferSyntaxUID, a->transfer_syntax_uid, sizeof a->transfer_syntax_uid);
    if (a->transfer_syntax_uid[0] == 0) {
        DcmXfer xfer(ds->getOriginalXfer());
        std::strncpy(a->transfer_syntax_uid, xfer.getXferID(), sizeof a->transfer_syntax_uid - 1);
    }
    // A cut UID could make two series one, or two slices duplicates: flagged, never cut silently.
    bool fits = copyString(meta, DCM_MediaStorageSOPClassUID, a->media_sop_class_uid, CDICOM_UID_LENGTH);
    fits &= copyString(meta, DCM_MediaStorageSOPInstanceUID, a->media_sop_instance_uid, CDICOM_UID_LENGTH);
    fits &= copyString(ds, DCM_SOPClassUID, a->sop_class_uid, CDICOM_UID_LENGTH);
    fits &= copyString(ds, DCM_SOPInstanceUID, a->sop_instance_uid, CDICOM_UID_LENGTH);
    fits &= copyString(ds, DCM_StudyInstanceUID, a->study_instance_uid, CDICOM_UID_LENGTH);
    fits &= copyString(ds, DCM_SeriesInstanceUID, a->series_instance_uid, CDICOM_UID_LENGTH);
    fits &= copyString(ds, DCM_FrameOfReferenceUID, a->frame_of_reference_uid, CDICOM_UID_LENGTH);
    a->uid_too_long = fits ? 0 : 1;
    copyString(ds, DCM_Modality, a->modality, sizeof a->modality);
    copyString(ds, DCM_ImageType, a->image_type, sizeof a->image_type, true);
    if (a->image_type[0] == 0) copyString(ds, DCM_FrameType, a->image_type, sizeof a->image_type, true);
    copyString(ds, DCM_PhotometricInterpretation, a->photometric_interpretation, sizeof a->photometric_interpretation);
    copyString(ds, DCM_SeriesDescription, a->series_description, sizeof a->series_description);
    a->has_series_number = readInt(ds, DCM_SeriesNumber, a->series_number);
    a->has_instance_number = readInt(ds, DCM_InstanceNumber, a->instance_number);
    a->has_acquisition_number = readInt(ds, DCM_AcquisitionNumber, a->acquisition_number);
    a->has_gantry_tilt = readDoubles(ds, DCM_GantryDetectorTilt, &a->gantry_tilt, 1);
    readInt(ds, DCM_Rows, a->rows);
    readInt(ds, DCM_Columns, a->columns);
    a->samples_per_pixel = 1;
    readInt(ds, DCM_SamplesPerPixel, a->samples_per_pixel);
    readInt(ds, DCM_BitsAllocated, a->bits_allocated);
    if (!readInt(ds, DCM_BitsStored, a->bits_stored)) a->bits_stored = a->bits_allocated;
    if (!readInt(ds, DCM_HighBit, a->high_bit)) a->high_bit = a->bits_stored - 1;
    readInt(ds, DCM_PixelRepresentation, a->pixel_representation);
    a->number_of_frames = 1;
    DcmElement *frames = nullptr;
    if (ds->findAndGetElement(DCM_NumberOfFrames, frames).good() && frames && frames->getLength() > 0) {
        // Strict: DCMTK reads "1A" as 1, but a frame count that is not a number is a broken file.
        OFString text;
        frames->getOFString(text, 0);
        char *end = nullptr;
        long value = std::strtol(text.c_str(), &end, 10);
        while (end && *end == ' ') end++;
        a->number_of_frames = (end && *end == 0 && value > 0 && value < INT32_MAX) ? int(value) : -1;
    }
    a->has_pixel_data = ds->tagExists(DCM_PixelData) ? 1 : 0;
    a->pixel_data_bytes = -1;
    DcmElement *pixels = nullptr;
    if (a->has_pixel_data && !DcmXfer(ds->getOriginalXfer()).isEncapsulated()
        && ds->findAndGetElement(DCM_PixelData, pixels).good() && pixels && pixels->getLength() != DCM_UndefinedLength) {
        a->pixel_data_bytes = (long long)pixels->getLength();
    }
    a->has_per_frame_groups = ds->tagExists(DCM_PerFrameFunctionalGroupsSequence) ? 1 : 0;
    mergeFrameInfo(ds, &a->frame);
    mergeFunctionalGroup(sequenceItem(ds, DCM_SharedFunctionalGroupsSequence, 0), &a->frame);
    return 0;
}

extern "C" int cdicom_read_frame_info(cdicom_file *file, int frame, cdicom_frame_info *info, char *err, size_t errlen) {
    std::memset(info, 0, sizeof *info);
    DcmDataset *ds = file->format.getDataset();
    if (!ds) { cdicom_set_error(err, errlen, "the file has no dataset"); return -1; }
    mergeFrameInfo(ds, info);
    mergeFunctionalGroup(sequenceItem(ds, DCM_SharedFunctionalGroupsSequence, 0), info);
    if (ds->tagExists(DCM_PerFrameFunctionalGroupsSequence)) {
        DcmItem *perFrame = sequenceItem(ds, DCM_PerFrameFunctionalGroupsSequence, frame);
        if (!perFrame) {
            cdicom_set_error(err, errlen, "the per-frame functional groups have no item for frame " + std::to_string(frame + 1));
            return -1;
        }
        mergeFunctionalGroup(perFrame, info);
    }
    return 0;
}
