#!/usr/bin/env python3
"""Writes a label map as a DICOM Segmentation with highdicom: a SEG no one here wrote, for the
tests of lcovnet's SEG reader (a site's contours as training or evaluation labels).
Usage: write_seg_highdicom.py SERIES_FOLDER LABELS.raw SOURCE.json OUT.dcm binary|fractional

LABELS.raw and SOURCE.json as tools/check_seg.py reads them (uint8 WORD ids in the source images'
layout; {"shape": [slices, rows, columns], "instances": [SOP Instance UID of slice k]}). Segments
are named as other tools name them: TotalSegmentator's labels for most organs, and for the right
kidney a label that says nothing ("Segment 2"), so only its coded type and laterality tell.
"""
import json
import pathlib
import sys

import highdicom
import numpy as np
import pydicom
from pydicom.sr.codedict import codes

# WORD id → (Segment Label, property type, laterality)
SEGMENTS = {1: ("liver", codes.SCT.Liver, None), 2: ("spleen", codes.SCT.Spleen, None),
            3: ("kidney_left", codes.SCT.Kidney, codes.SCT.Left), 4: ("Segment 2", codes.SCT.Kidney, codes.SCT.Right),
            5: ("stomach", codes.SCT.Stomach, None), 15: ("femur_left", codes.SCT.HeadOfFemur, codes.SCT.Left),
            16: ("femur_right", codes.SCT.HeadOfFemur, codes.SCT.Right)}


def main():
    series, labels_path, source_path, out, kind = sys.argv[1:6]
    source = json.load(open(source_path))
    labels = np.fromfile(labels_path, dtype=np.uint8).reshape(source["shape"])
    by_uid = {}
    for path in pathlib.Path(series).rglob("*"):
        if path.is_file():
            ds = pydicom.dcmread(path)
            # Type 2 attributes highdicom copies (lcovnet's phantom series leave them out).
            for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
                            "ReferringPhysicianName", "StudyID", "AccessionNumber"):
                if keyword not in ds:
                    setattr(ds, keyword, "")
            by_uid[ds.SOPInstanceUID] = ds
    images = [by_uid[uid] for uid in source["instances"]]
    present = [organ for organ in SEGMENTS if np.any(labels == organ)]
    descriptions, channels = [], []
    for number, organ in enumerate(present, start=1):
        label, kind_code, side = SEGMENTS[organ]
        description = highdicom.seg.SegmentDescription(
            segment_number=number, segment_label=label,
            segmented_property_category=codes.SCT.Organ, segmented_property_type=kind_code,
            algorithm_type=highdicom.seg.SegmentAlgorithmTypeValues.MANUAL)
        if side is not None:
            description.SegmentedPropertyTypeCodeSequence[0].SegmentedPropertyTypeModifierCodeSequence = [
                highdicom.sr.CodedConcept(side.value, side.scheme_designator, side.meaning)]
        descriptions.append(description)
        mask = (labels == organ)
        # Fractional: the organ at 0.8, a one-voxel fringe at 0.3 (below half: not the organ).
        channels.append(np.where(mask, 0.8, np.where(np.roll(mask, 1, axis=2), 0.3, 0.0)) if kind == "fractional" else mask)
    pixels = np.stack(channels, axis=-1)
    seg = highdicom.seg.Segmentation(
        source_images=images, pixel_array=pixels.astype(np.float32 if kind == "fractional" else np.uint8),
        segmentation_type=highdicom.seg.SegmentationTypeValues.FRACTIONAL if kind == "fractional" else highdicom.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions, series_instance_uid=highdicom.UID(), series_number=77,
        sop_instance_uid=highdicom.UID(), instance_number=1, manufacturer="highdicom", manufacturer_model_name="test",
        software_versions=highdicom.__version__, device_serial_number="1", max_fractional_value=200)
    seg.save_as(out)
    print("ok")


if __name__ == "__main__":
    main()
