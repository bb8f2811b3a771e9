// Reading a DICOM Segmentation (binary or fractional) with DCMTK's dcmseg: its segments, which
// segment and position each frame has, and each frame as one byte per pixel.
#include "cdicom_internal.hpp"
#include "dcmtk/dcmfg/fginterface.h"
#include "dcmtk/dcmfg/fgplanpo.h"
#include "dcmtk/dcmfg/fgseg.h"
#include "dcmtk/dcmseg/segdoc.h"
#include "dcmtk/dcmseg/segment.h"
#include "dcmtk/dcmseg/segutils.h"
#include <cstdio>
#include <memory>

struct cdicom_seg {
    std::unique_ptr<DcmSegmentation> document;
    int rows = 0, columns = 0;
    bool fractional = false;
    Uint16 maxFractional = 255;
};

namespace {

void copyText(char *out, size_t capacity, const OFString &value) {
    std::snprintf(out, capacity, "%s", value.c_str());
}

}  // namespace

extern "C" int cdicom_seg_open(const char *path, int rows, int columns, cdicom_seg **out, cdicom_seg_info *info,
                               char *err, size_t errlen) {
    return cdicom_guarded(err, errlen, [&] {
        auto seg = std::make_unique<cdicom_seg>();
        DcmSegmentation *loaded = nullptr;
        cdicom_check(DcmSegmentation::loadFile(path, loaded), "DCMTK cannot read the segmentation");
        seg->document.reset(loaded);
        seg->rows = rows;
        seg->columns = columns;
        switch (loaded->getSegmentationType()) {
            case DcmSegTypes::ST_BINARY: break;
            case DcmSegTypes::ST_FRACTIONAL: {
                seg->fractional = true;
                DcmFileFormat header;  // dcmseg keeps Maximum Fractional Value to itself
                if (header.loadFile(path, EXS_Unknown, EGL_noChange, 256).good()) {
                    Uint16 value = 0;
                    if (header.getDataset()->findAndGetUint16(DCM_MaximumFractionalValue, value).good() && value > 0) seg->maxFractional = value;
                }
                break;
            }
            default: throw CdicomFailure{"neither a binary nor a fractional segmentation"};
        }
        info->frame_count = int(loaded->getNumberOfFrames());
        info->segment_count = int(loaded->getNumberOfSegments());
        info->fractional = seg->fractional ? 1 : 0;
        *out = seg.release();
    });
}

extern "C" void cdicom_seg_close(cdicom_seg *seg) { delete seg; }

extern "C" int cdicom_seg_read_segment(cdicom_seg *seg, int number, cdicom_seg_segment_info *out, char *err, size_t errlen) {
    DcmSegment *segment = seg->document->getSegment(size_t(number));
    if (!segment) {
        cdicom_set_error(err, errlen, "no segment " + std::to_string(number));
        return -1;
    }
    OFString label, meaning, modifier;
    segment->getSegmentLabel(label);
    segment->getSegmentedPropertyTypeCode().getCodeMeaning(meaning);
    OFVector<CodeSequenceMacro *> &modifiers = segment->getSegmentedPropertyTypeModifierCode();
    if (!modifiers.empty() && modifiers[0]) modifiers[0]->getCodeMeaning(modifier);
    copyText(out->label, sizeof out->label, label);
    copyText(out->type_meaning, sizeof out->type_meaning, meaning);
    copyText(out->modifier_meaning, sizeof out->modifier_meaning, modifier);
    return 0;
}

extern "C" int cdicom_seg_frame(cdicom_seg *seg, int frame, int *segment_number, unsigned char *mask, size_t count,
                                char *err, size_t errlen) {
    return cdicom_guarded(err, errlen, [&] {
        const size_t plane = size_t(seg->rows) * size_t(seg->columns);
        if (count != plane) throw CdicomFailure{"the mask buffer does not hold one frame"};
        FGInterface &groups = seg->document->getFunctionalGroups();
        auto *identification = OFstatic_cast(FGSegmentation *, groups.get(Uint32(frame), DcmFGTypes::EFG_SEGMENTATION));
        Uint16 number = 0;
        if (!identification || identification->getReferencedSegmentNumber(number).bad() || number == 0)
            throw CdicomFailure{"frame " + std::to_string(frame + 1) + " names no segment"};
        *segment_number = number;
        const DcmIODTypes::Frame *stored = seg->document->getFrame(size_t(frame));
        if (!stored || !stored->pixData) throw CdicomFailure{"frame " + std::to_string(frame + 1) + " has no pixel data"};
        if (seg->fractional) {
            if (stored->length < plane) throw CdicomFailure{"frame " + std::to_string(frame + 1) + " is shorter than rows × columns"};
            // Occupancy or probability: the voxel belongs to the segment when over half.
            for (size_t n = 0; n < plane; n++) mask[n] = 2u * stored->pixData[n] > seg->maxFractional ? 1 : 0;
        } else {
            if (stored->length < DcmSegUtils::getBytesForBinaryFrame(plane))
                throw CdicomFailure{"frame " + std::to_string(frame + 1) + " is shorter than rows × columns bits"};
            std::unique_ptr<DcmIODTypes::Frame> unpacked(DcmSegUtils::unpackBinaryFrame(stored, Uint16(seg->rows), Uint16(seg->columns)));
            if (!unpacked || unpacked->length < plane) throw CdicomFailure{"frame " + std::to_string(frame + 1) + " cannot be unpacked"};
            for (size_t n = 0; n < plane; n++) mask[n] = unpacked->pixData[n] ? 1 : 0;
        }
    });
}
