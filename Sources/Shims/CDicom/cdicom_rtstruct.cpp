// Writing organ contours as an RT Structure Set with DCMTK's dcmrt.
#include "cdicom_internal.hpp"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmrt/drtstrct.h"
#include "dcmtk/ofstd/ofdatime.h"
#include <cstdio>
#include <cstring>
#include <string>

namespace {

std::string newUID() {
    char uid[100];
    return dcmGenerateUniqueIdentifier(uid, SITE_INSTANCE_UID_ROOT);
}

}  // namespace

extern "C" int cdicom_write_rtstruct(const char *source_file, const char *const *source_instances, int slices,
                                     const cdicom_rt_roi *rois, int roi_count, int series_number, const char *software_version,
                                     const char *out_path, char *err, size_t errlen) {
    return cdicom_guarded(err, errlen, [&] {
        DcmFileFormat source;
        cdicom_check(source.loadFile(source_file, EXS_Unknown, EGL_noChange, 4096), "cannot read the source image");
        DcmDataset *src = source.getDataset();
        OFString sopClass, study, series, frameOfReference;
        src->findAndGetOFString(DCM_SOPClassUID, sopClass);
        src->findAndGetOFString(DCM_StudyInstanceUID, study);
        src->findAndGetOFString(DCM_SeriesInstanceUID, series);
        src->findAndGetOFString(DCM_FrameOfReferenceUID, frameOfReference);
        if (study.empty() || series.empty() || frameOfReference.empty())
            throw CdicomFailure{"the source images lack a study, series or frame of reference UID"};

        DRTStructureSetIOD rt;
        // Patient and study modules from the source (what PACS files the structure set under).
        cdicom_check(rt.readStudyData(*src), "cannot take over patient and study");
        // The frame of reference module, which readStudyData leaves out.
        cdicom_check(rt.setFrameOfReferenceUID(frameOfReference), "frame of reference");
        OFString date, time;
        OFDateTime::getCurrentDateTime().getDate().getISOFormattedDate(date, OFFalse);
        OFDateTime::getCurrentDateTime().getTime().getISOFormattedTime(time, OFTrue, OFFalse, OFFalse, OFFalse);
        cdicom_check(rt.setSOPClassUID(UID_RTStructureSetStorage), "SOP class");
        cdicom_check(rt.setSOPInstanceUID(newUID().c_str()), "SOP instance");
        cdicom_check(rt.setModality("RTSTRUCT"), "modality");
        cdicom_check(rt.setSeriesInstanceUID(newUID().c_str()), "series");
        cdicom_check(rt.setSeriesNumber(std::to_string(series_number).c_str()), "series number");
        cdicom_check(rt.setSeriesDescription("lcovnet organs (RTSTRUCT)"), "series description");
        cdicom_check(rt.setInstanceNumber("1"), "instance number");
        cdicom_check(rt.setManufacturer("lcovnet"), "manufacturer");
        cdicom_check(rt.setSoftwareVersions(software_version), "software versions");
        cdicom_check(rt.setStructureSetLabel("lcovnet organs"), "structure set label");
        cdicom_check(rt.setStructureSetDate(date), "structure set date");
        cdicom_check(rt.setStructureSetTime(time), "structure set time");

        // Frame of reference → study → series → the contoured images.
        DRTReferencedFrameOfReferenceSequence::Item *forItem = nullptr;
        cdicom_check(rt.getReferencedFrameOfReferenceSequence().addItem(forItem), "frame of reference item");
        cdicom_check(forItem->setFrameOfReferenceUID(frameOfReference), "frame of reference");
        DRTRTReferencedStudySequence::Item *studyItem = nullptr;
        cdicom_check(forItem->getRTReferencedStudySequence().addItem(studyItem), "study item");
        cdicom_check(studyItem->setReferencedSOPClassUID("1.2.840.10008.3.1.2.3.1"), "study component class");   // Detached Study Management (retired, the value RT objects use)
        cdicom_check(studyItem->setReferencedSOPInstanceUID(study), "study");
        DRTRTReferencedSeriesSequence::Item *seriesItem = nullptr;
        cdicom_check(studyItem->getRTReferencedSeriesSequence().addItem(seriesItem), "series item");
        cdicom_check(seriesItem->setSeriesInstanceUID(series), "series");
        if (source_instances) {
            for (int k = 0; k < slices; k++) {
                DRTContourImageSequence::Item *image = nullptr;
                cdicom_check(seriesItem->getContourImageSequence().addItem(image), "image item");
                cdicom_check(image->setReferencedSOPClassUID(sopClass), "image class");
                cdicom_check(image->setReferencedSOPInstanceUID(source_instances[k]), "image instance");
            }
        }

        for (int r = 0; r < roi_count; r++) {
            const cdicom_rt_roi &roi = rois[r];
            const std::string number = std::to_string(roi.number);
            DRTStructureSetROISequence::Item *set = nullptr;
            cdicom_check(rt.getStructureSetROISequence().addItem(set), "ROI item");
            cdicom_check(set->setROINumber(number.c_str()), "ROI number");
            cdicom_check(set->setReferencedFrameOfReferenceUID(frameOfReference), "ROI frame of reference");
            cdicom_check(set->setROIName(roi.name), "ROI name");
            cdicom_check(set->setROIGenerationAlgorithm("AUTOMATIC"), "ROI generation");

            DRTROIContourSequence::Item *contours = nullptr;
            cdicom_check(rt.getROIContourSequence().addItem(contours), "ROI contour item");
            cdicom_check(contours->setReferencedROINumber(number.c_str()), "referenced ROI");
            const std::string color = std::to_string(roi.color[0]) + "\\" + std::to_string(roi.color[1]) + "\\" + std::to_string(roi.color[2]);
            cdicom_check(contours->setROIDisplayColor(color.c_str()), "ROI colour");
            const double *p = roi.points;
            for (int c = 0; c < roi.contour_count; c++) {
                const int n = roi.contour_point_counts[c];
                DRTContourSequence::Item *contour = nullptr;
                cdicom_check(contours->getContourSequence().addItem(contour), "contour item");
                cdicom_check(contour->setContourGeometricType("CLOSED_PLANAR"), "contour type");
                cdicom_check(contour->setNumberOfContourPoints(std::to_string(n).c_str()), "contour points");
                std::string data;
                data.reserve(size_t(n) * 3 * 12);
                for (int i = 0; i < 3 * n; i++) { if (i) data += '\\'; data += cdicom_decimal(p[i]); }
                cdicom_check(contour->setContourData(data.c_str(), OFFalse), "contour data");
                const int k = roi.contour_slices[c];
                if (source_instances && k >= 0 && k < slices) {
                    DRTContourImageSequence::Item *image = nullptr;
                    cdicom_check(contour->getContourImageSequence().addItem(image), "contour image item");
                    cdicom_check(image->setReferencedSOPClassUID(sopClass), "contour image class");
                    cdicom_check(image->setReferencedSOPInstanceUID(source_instances[k]), "contour image instance");
                }
                p += 3 * n;
            }
            DRTRTROIObservationsSequence::Item *observation = nullptr;
            cdicom_check(rt.getRTROIObservationsSequence().addItem(observation), "observation item");
            cdicom_check(observation->setObservationNumber(number.c_str()), "observation number");
            cdicom_check(observation->setReferencedROINumber(number.c_str()), "observation ROI");
            cdicom_check(observation->setRTROIInterpretedType("ORGAN"), "interpreted type");
            cdicom_check(observation->setROIInterpreter(""), "interpreter");
        }
        if (roi_count == 0) throw CdicomFailure{"no organ was found: a structure set needs at least one ROI"};

        DcmFileFormat file;
        cdicom_check(rt.write(*file.getDataset()), "cannot build the structure set");
        cdicom_check(file.saveFile(out_path, EXS_LittleEndianExplicit), "cannot write the structure set");
    });
}
