// Writing organ label maps as a binary DICOM Segmentation with DCMTK's dcmseg.
#include "cdicom_internal.hpp"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmfg/fgderimg.h"
#include "dcmtk/dcmfg/fgfracon.h"
#include "dcmtk/dcmfg/fgpixmsr.h"
#include "dcmtk/dcmfg/fgplanor.h"
#include "dcmtk/dcmfg/fgplanpo.h"
#include "dcmtk/dcmiod/iodreferences.h"
#include "dcmtk/dcmseg/segdoc.h"
#include "dcmtk/dcmseg/segment.h"
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

namespace {


/// Frames lie on their source images' grid, pixel for pixel: each Source Image Sequence item
/// says so (dcmseg 3.6.7 has no setter; readers such as highdicom index by source image only
/// when Spatial Locations Preserved is YES).
void markSpatialLocationsPreserved(DcmItem *dataset) {
    DcmSequenceOfItems *frames = nullptr;
    if (dataset->findAndGetSequence(DCM_PerFrameFunctionalGroupsSequence, frames).bad() || !frames) return;
    for (unsigned long f = 0; f < frames->card(); f++) {
        DcmSequenceOfItems *derivations = nullptr;
        if (frames->getItem(f)->findAndGetSequence(DCM_DerivationImageSequence, derivations).bad() || !derivations) continue;
        for (unsigned long d = 0; d < derivations->card(); d++) {
            DcmSequenceOfItems *sources = nullptr;
            if (derivations->getItem(d)->findAndGetSequence(DCM_SourceImageSequence, sources).bad() || !sources) continue;
            for (unsigned long s = 0; s < sources->card(); s++) {
                cdicom_check(sources->getItem(s)->putAndInsertString(DCM_SpatialLocationsPreserved, "YES"), "spatial locations preserved");
            }
        }
    }
}

}  // namespace

extern "C" int cdicom_write_seg(const char *source_file, const char *const *source_instances, const cdicom_seg_grid *g,
                                const unsigned char *labels, const cdicom_seg_segment *segments, int segment_count,
                                const char *series_description, int series_number, const char *software_version,
                                const char *out_path, char *err, size_t errlen) {
    return cdicom_guarded(err, errlen, [&] {
        if (g->rows <= 0 || g->columns <= 0 || g->slices <= 0 || g->rows > 65535 || g->columns > 65535)
            throw CdicomFailure{"the grid's size is not one a DICOM frame can have"};
        DcmFileFormat source;
        cdicom_check(source.loadFile(source_file, EXS_Unknown, EGL_noChange, 4096), "cannot read the source image");
        OFString sopClass, sopInstance, patientID, study, series;
        DcmDataset *sourceSet = source.getDataset();
        sourceSet->findAndGetOFString(DCM_SOPClassUID, sopClass);
        sourceSet->findAndGetOFString(DCM_SOPInstanceUID, sopInstance);
        sourceSet->findAndGetOFString(DCM_PatientID, patientID);
        sourceSet->findAndGetOFString(DCM_StudyInstanceUID, study);
        sourceSet->findAndGetOFString(DCM_SeriesInstanceUID, series);
        std::vector<bool> referenced(size_t(g->slices), false);

        IODGeneralEquipmentModule::EquipmentInfo equipment("lcovnet", "lcovnet", "1", software_version);
        ContentIdentificationMacro content("1", "ORGANS", "Abdominal organs (WORD) segmented by lcovnet", "lcovnet");
        DcmSegmentation *created = nullptr;
        cdicom_check(DcmSegmentation::createBinarySegmentation(created, Uint16(g->rows), Uint16(g->columns), equipment, content),
              "cannot create the segmentation");
        std::unique_ptr<DcmSegmentation> seg(created);
        cdicom_check(seg->importFromSourceImage(*source.getDataset(), OFTrue), "cannot take over patient, study and frame of reference");
        cdicom_check(seg->getSeries().setSeriesDescription(series_description), "series description");
        cdicom_check(seg->getSegmentationSeriesModule().setSeriesNumber(std::to_string(series_number).c_str()), "series number");

        // What all frames share: pixel measures and orientation.
        FGPixelMeasures measures;
        cdicom_check(measures.setPixelSpacing((cdicom_decimal(g->pixel_spacing[0]) + "\\" + cdicom_decimal(g->pixel_spacing[1])).c_str()), "pixel spacing");
        cdicom_check(measures.setSliceThickness(cdicom_decimal(g->slice_thickness).c_str()), "slice thickness");
        cdicom_check(seg->addForAllFrames(measures), "pixel measures");
        std::unique_ptr<FGPlaneOrientationPatient> orientation(FGPlaneOrientationPatient::createMinimal(
            cdicom_decimal(g->orientation[0]).c_str(), cdicom_decimal(g->orientation[1]).c_str(), cdicom_decimal(g->orientation[2]).c_str(),
            cdicom_decimal(g->orientation[3]).c_str(), cdicom_decimal(g->orientation[4]).c_str(), cdicom_decimal(g->orientation[5]).c_str()));
        if (!orientation) throw CdicomFailure{"cannot describe the orientation"};
        cdicom_check(seg->addForAllFrames(*orientation), "plane orientation");

        // Frames are indexed by segment, then by position.
        char uid[100];
        dcmGenerateUniqueIdentifier(uid, SITE_INSTANCE_UID_ROOT);
        IODMultiframeDimensionModule &dimensions = seg->getDimensions();
        cdicom_check(dimensions.addDimensionIndex(DCM_ReferencedSegmentNumber, uid, DCM_SegmentIdentificationSequence, "ReferencedSegmentNumber"),
              "segment dimension");
        cdicom_check(dimensions.addDimensionIndex(DCM_ImagePositionPatient, uid, DCM_PlanePositionSequence, "ImagePositionPatient"),
              "position dimension");

        const size_t plane = size_t(g->rows) * size_t(g->columns);
        std::vector<Uint8> frame(plane);
        int written = 0;
        for (int s = 0; s < segment_count; s++) {
            const cdicom_seg_segment &d = segments[s];
            std::vector<int> covered;
            for (int k = 0; k < g->slices; k++) {
                const unsigned char *slice = labels + size_t(k) * plane;
                for (size_t n = 0; n < plane; n++) if (slice[n] == d.label) { covered.push_back(k); break; }
            }
            if (covered.empty()) continue;
            DcmSegment *segment = nullptr;
            cdicom_check(DcmSegment::create(segment, d.name, CodeSequenceMacro(d.category_value, d.category_scheme, d.category_meaning),
                                     CodeSequenceMacro(d.type_value, d.type_scheme, d.type_meaning), DcmSegTypes::SAT_AUTOMATIC, "lcovnet"),
                  "cannot describe a segment");
            if (d.modifier_value) {
                segment->getSegmentedPropertyTypeModifierCode().push_back(
                    new CodeSequenceMacro(d.modifier_value, d.modifier_scheme, d.modifier_meaning));
            }
            Uint16 number = 0;
            OFCondition added = seg->addSegment(segment, number);
            if (added.bad()) { delete segment; cdicom_check(added, "cannot add a segment"); }
            for (int k : covered) {
                const unsigned char *slice = labels + size_t(k) * plane;
                for (size_t n = 0; n < plane; n++) frame[n] = slice[n] == d.label ? 1 : 0;
                const double *p = g->positions + 3 * k;
                std::unique_ptr<FGPlanePosPatient> position(FGPlanePosPatient::createMinimal(cdicom_decimal(p[0]).c_str(), cdicom_decimal(p[1]).c_str(), cdicom_decimal(p[2]).c_str()));
                FGFrameContent frameContent;
                cdicom_check(frameContent.setDimensionIndexValues(number, 0), "segment index");
                cdicom_check(frameContent.setDimensionIndexValues(Uint32(k + 1), 1), "position index");
                OFVector<FGBase *> perFrame;
                perFrame.push_back(position.get());
                perFrame.push_back(&frameContent);
                std::unique_ptr<FGDerivationImage> derivation;
                if (source_instances && source_instances[k] && source_instances[k][0] && !sopClass.empty()) {
                    ImageSOPInstanceReferenceMacro *reference = nullptr;
                    cdicom_check(ImageSOPInstanceReferenceMacro::create(sopClass, source_instances[k], reference), "source image reference");
                    OFVector<ImageSOPInstanceReferenceMacro> references;
                    references.push_back(*reference);
                    delete reference;
                    derivation.reset(DcmSegmentation::createDerivationImageFG(references, "Segmented by lcovnet"));
                    if (derivation) perFrame.push_back(derivation.get());
                }
                cdicom_check(seg->addFrame(frame.data(), number, perFrame), "cannot add a frame");
                if (derivation) referenced[size_t(k)] = true;
                written++;
            }
        }
        if (written == 0) throw CdicomFailure{"no organ was found: a segmentation needs at least one segment"};
        // Every image a frame derives from, in the Referenced Series Sequence (readers check
        // that the two agree); without per-slice references, the source file itself.
        IODReferences references;
        for (int k = 0; k < g->slices; k++) {
            if (referenced[size_t(k)]) references.add(new IODImageReference(patientID, study, series, source_instances[k], sopClass));
        }
        if (references.size() == 0) references.add(new IODImageReference(patientID, study, series, sopInstance, sopClass));
        seg->getCommonInstanceReference().addReferences(references, study);
        DcmFileFormat file;
        cdicom_check(seg->writeDataset(*file.getDataset()), "cannot build the segmentation");
        markSpatialLocationsPreserved(file.getDataset());
        cdicom_check(file.saveFile(out_path, EXS_LittleEndianExplicit), "cannot write the segmentation");
    });
}
