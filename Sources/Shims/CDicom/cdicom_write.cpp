// Writing CT objects (classic single-frame or enhanced multi-frame) in a chosen transfer syntax.
#include "cdicom_internal.hpp"
#include "dcmtk/dcmdata/dcpixseq.h"
#include "dcmtk/dcmdata/dcpxitem.h"
#include "dcmtk/dcmdata/dcrlerp.h"
#include "dcmtk/dcmjpeg/djrplol.h"
#include "dcmtk/dcmjpls/djrparam.h"
#include <cstdio>
#include <cstring>

namespace {

std::string decimals(const double *values, int count) {
    std::string text;
    for (int i = 0; i < count; i++) text += (i ? "\\" : "") + cdicom_decimal(values[i]);
    return text;
}

struct Failure { std::string message; };

void put(DcmItem *item, const DcmTagKey &key, const std::string &value) {
    OFCondition status = item->putAndInsertString(key, value.c_str());
    if (status.bad()) throw Failure{std::string("cannot set ") + DcmTag(key).getTagName() + ": " + status.text()};
}
void put16(DcmItem *item, const DcmTagKey &key, Uint16 value) {
    OFCondition status = item->putAndInsertUint16(key, value);
    if (status.bad()) throw Failure{std::string("cannot set ") + DcmTag(key).getTagName() + ": " + status.text()};
}
DcmItem *newGroup(DcmItem *parent, const DcmTagKey &sequence, int index = 0) {
    DcmItem *item = nullptr;
    if (parent->findOrCreateSequenceItem(sequence, item, index).bad() || !item) throw Failure{"cannot create a sequence item"};
    return item;
}

E_TransferSyntax syntaxFor(int code) {
    switch (code) {
    case CDICOM_TS_IMPLICIT_LITTLE: return EXS_LittleEndianImplicit;
    case CDICOM_TS_EXPLICIT_LITTLE: return EXS_LittleEndianExplicit;
    case CDICOM_TS_EXPLICIT_BIG: return EXS_BigEndianExplicit;
    case CDICOM_TS_DEFLATED: return EXS_DeflatedLittleEndianExplicit;
    case CDICOM_TS_RLE: return EXS_RLELossless;
    case CDICOM_TS_JPEG_LOSSLESS_SV1: return EXS_JPEGProcess14SV1;
    case CDICOM_TS_JPEG_LS_LOSSLESS: return EXS_JPEGLSLossless;
    case CDICOM_TS_JPEG2000_LOSSLESS: return EXS_JPEG2000LosslessOnly;
    default: throw Failure{"unknown transfer syntax code " + std::to_string(code)};
    }
}

void describe(DcmDataset *ds, const cdicom_slice *s) {
    bool enhanced = s->frame_count > 1;
    put(ds, DCM_SOPClassUID, s->sop_class_uid);
    put(ds, DCM_SOPInstanceUID, s->sop_instance_uid);
    put(ds, DCM_StudyInstanceUID, s->study_instance_uid);
    put(ds, DCM_SeriesInstanceUID, s->series_instance_uid);
    put(ds, DCM_FrameOfReferenceUID, s->frame_of_reference_uid);
    put(ds, DCM_Modality, s->modality);
    put(ds, DCM_ImageType, s->image_type);
    put(ds, DCM_PatientName, s->patient_name);
    put(ds, DCM_PatientID, s->patient_id);
    put(ds, DCM_StudyDate, "20260101");
    put(ds, DCM_StudyTime, "120000");
    put(ds, DCM_Manufacturer, "lcovnet phantom");
    put(ds, DCM_SeriesDescription, s->series_description);
    put(ds, DCM_SeriesNumber, std::to_string(s->series_number));
    put(ds, DCM_InstanceNumber, std::to_string(s->instance_number));
    put(ds, DCM_AcquisitionNumber, "1");
    put16(ds, DCM_SamplesPerPixel, 1);
    put(ds, DCM_PhotometricInterpretation, "MONOCHROME2");
    put16(ds, DCM_Rows, Uint16(s->rows));
    put16(ds, DCM_Columns, Uint16(s->columns));
    put16(ds, DCM_BitsAllocated, 16);
    put16(ds, DCM_BitsStored, Uint16(s->bits_stored));
    put16(ds, DCM_HighBit, Uint16(s->bits_stored - 1));
    put16(ds, DCM_PixelRepresentation, Uint16(s->pixel_representation));
    if (s->has_gantry_tilt) put(ds, DCM_GantryDetectorTilt, cdicom_decimal(s->gantry_tilt));
    std::string spacing = decimals(s->pixel_spacing, 2), orientation = decimals(s->orientation, 6);
    std::string thickness = cdicom_decimal(s->slice_thickness);
    std::string slope = cdicom_decimal(s->rescale_slope), intercept = cdicom_decimal(s->rescale_intercept);
    if (!enhanced) {
        put(ds, DCM_ImagePositionPatient, decimals(s->positions, 3));
        put(ds, DCM_ImageOrientationPatient, orientation);
        put(ds, DCM_PixelSpacing, spacing);
        put(ds, DCM_SliceThickness, thickness);
        put(ds, DCM_RescaleIntercept, intercept);
        put(ds, DCM_RescaleSlope, slope);
        put(ds, DCM_RescaleType, "HU");
        return;
    }
    // Enhanced CT: geometry in functional groups, one position per frame.
    put(ds, DCM_NumberOfFrames, std::to_string(s->frame_count));
    put(ds, DCM_ContentQualification, "PRODUCT");
    DcmItem *shared = newGroup(ds, DCM_SharedFunctionalGroupsSequence);
    put(newGroup(shared, DCM_PlaneOrientationSequence), DCM_ImageOrientationPatient, orientation);
    DcmItem *measures = newGroup(shared, DCM_PixelMeasuresSequence);
    put(measures, DCM_PixelSpacing, spacing);
    put(measures, DCM_SliceThickness, thickness);
    DcmItem *values = newGroup(shared, DCM_PixelValueTransformationSequence);
    put(values, DCM_RescaleIntercept, intercept);
    put(values, DCM_RescaleSlope, slope);
    put(values, DCM_RescaleType, "HU");
    for (int f = 0; f < s->frame_count; f++) {
        DcmItem *frame = newGroup(ds, DCM_PerFrameFunctionalGroupsSequence, f);
        put(newGroup(frame, DCM_PlanePositionSequence), DCM_ImagePositionPatient, decimals(s->positions + 3 * f, 3));
        DcmItem *content = newGroup(frame, DCM_FrameContentSequence);
        put(content, DCM_StackID, "1");
        put(content, DCM_InStackPositionNumber, std::to_string(f + 1));
    }
}

void insertNativePixels(DcmDataset *ds, const cdicom_slice *s) {
    size_t count = size_t(s->rows) * s->columns * s->frame_count;
    OFCondition status = ds->putAndInsertUint16Array(DCM_PixelData, s->pixels, static_cast<unsigned long>(count));
    if (status.bad()) throw Failure{std::string("cannot set PixelData: ") + status.text()};
}

void insertJ2KPixels(DcmDataset *ds, const cdicom_slice *s) {
    auto *sequence = new DcmPixelSequence(DcmTag(DCM_PixelSequenceTag));
    auto *offsetTable = new DcmPixelItem(DcmTag(DCM_Item, EVR_OB));
    sequence->insert(offsetTable);
    OFList<Uint32> offsets;
    size_t frameVoxels = size_t(s->rows) * s->columns;
    for (int f = 0; f < s->frame_count; f++) {
        std::vector<uint8_t> codestream;
        std::string message;
        if (!cdicom_j2k_encode(s->pixels + f * frameVoxels, s->columns, s->rows, s->bits_stored,
                               s->pixel_representation == 1, codestream, message)) {
            delete sequence;
            throw Failure{message};
        }
        if (codestream.size() % 2) codestream.push_back(0);
        if (sequence->storeCompressedFrame(offsets, codestream.data(), Uint32(codestream.size()), 0).bad()) {
            delete sequence;
            throw Failure{"cannot store a JPEG 2000 frame"};
        }
    }
    offsetTable->createOffsetTable(offsets);
    auto *pixelData = new DcmPixelData(DCM_PixelData);
    pixelData->putOriginalRepresentation(EXS_JPEG2000LosslessOnly, nullptr, sequence);
    ds->insert(pixelData, OFTrue);
}

void compress(DcmDataset *ds, E_TransferSyntax xfer) {
    OFCondition status = EC_Normal;
    if (xfer == EXS_RLELossless) {
        DcmRLERepresentationParameter parameters;
        status = ds->chooseRepresentation(xfer, &parameters);
    } else if (xfer == EXS_JPEGProcess14SV1) {
        DJ_RPLossless parameters(1, 0);
        status = ds->chooseRepresentation(xfer, &parameters);
    } else if (xfer == EXS_JPEGLSLossless) {
        DJLSRepresentationParameter parameters(0, OFTrue);
        status = ds->chooseRepresentation(xfer, &parameters);
    } else {
        return;
    }
    if (status.bad() || !ds->canWriteXfer(xfer)) {
        throw Failure{std::string("DCMTK cannot encode ") + DcmXfer(xfer).getXferName() + ": " + status.text()};
    }
}

}  // namespace

extern "C" int cdicom_write(const char *path, const cdicom_slice *s, char *err, size_t errlen) {
    cdicom_initialize();
    try {
        if (s->frame_count < 1 || s->rows < 1 || s->columns < 1) throw Failure{"empty frame"};
        E_TransferSyntax xfer = syntaxFor(s->transfer_syntax);
        DcmFileFormat format;
        DcmDataset *ds = format.getDataset();
        describe(ds, s);
        if (xfer == EXS_JPEG2000LosslessOnly) insertJ2KPixels(ds, s); else insertNativePixels(ds, s);
        compress(ds, xfer);
        // The meta header names the instance even when the dataset's UIDs are left empty.
        DcmMetaInfo *meta = format.getMetaInfo();
        put(meta, DCM_MediaStorageSOPClassUID, s->sop_class_uid);
        put(meta, DCM_MediaStorageSOPInstanceUID, s->media_sop_instance_uid);
        OFCondition status = format.saveFile(path, xfer, EET_ExplicitLength, EGL_recalcGL, EPD_withoutPadding,
                                             0, 0, EWM_fileformat);
        if (status.bad()) throw Failure{std::string("cannot write the file: ") + status.text()};
        return 0;
    } catch (const Failure &failure) {
        cdicom_set_error(err, errlen, failure.message);
        return -1;
    }
}

/// A decimal string (DS) of at most 16 characters, as precise as that allows.
std::string cdicom_decimal(double value) {
    char buffer[64];
    for (int digits = 15; digits > 1; digits--) {
        std::snprintf(buffer, sizeof buffer, "%.*g", digits, value);
        if (std::strlen(buffer) <= 16) break;
    }
    return buffer;
}
