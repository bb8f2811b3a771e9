#!/usr/bin/env python3
"""Reads an lcovnet DICOM Segmentation back with highdicom and checks it against the label map.
Usage: check_seg.py SEG.dcm LABELS.raw SOURCE.json

LABELS.raw: the label map, uint8 WORD ids, column fastest, then rows, then slices; SOURCE.json:
{"shape": [slices, rows, columns], "instances": [SOP Instance UID of slice k, ...]}. Checks, printing one line per failure and "ok" at the end:
- highdicom's segread reads the file; its per-source-instance label map equals EXPECTED voxel for
  voxel (each segment mapped back to its WORD id by its label);
- each segment's property type (and laterality) equals pydicom's code dictionary entry.
"""
import json
import sys

import highdicom
import numpy as np
from pydicom.sr.codedict import codes

WORD = {"liver": 1, "spleen": 2, "left kidney": 3, "right kidney": 4, "stomach": 5, "gallbladder": 6, "esophagus": 7,
        "pancreas": 8, "duodenum": 9, "colon": 10, "intestine": 11, "adrenal": 12, "rectum": 13, "bladder": 14,
        "left head of femur": 15, "right head of femur": 16}
EXPECTED_CODES = {"liver": (codes.SCT.Liver, None), "spleen": (codes.SCT.Spleen, None),
                  "left kidney": (codes.SCT.Kidney, codes.SCT.Left), "right kidney": (codes.SCT.Kidney, codes.SCT.Right),
                  "stomach": (codes.SCT.Stomach, None), "gallbladder": (codes.SCT.Gallbladder, None),
                  "esophagus": (codes.SCT.Esophagus, None), "pancreas": (codes.SCT.Pancreas, None),
                  "duodenum": (codes.SCT.Duodenum, None), "colon": (codes.SCT.Colon, None),
                  "intestine": (codes.SCT.SmallIntestine, None), "adrenal": (codes.SCT.AdrenalGland, None),
                  "rectum": (codes.SCT.Rectum, None), "bladder": (codes.SCT.Bladder, None),
                  "left head of femur": (codes.SCT.HeadOfFemur, codes.SCT.Left),
                  "right head of femur": (codes.SCT.HeadOfFemur, codes.SCT.Right)}


def main():
    seg_path, labels_path, source_path = sys.argv[1:4]
    source = json.load(open(source_path))
    expected = np.fromfile(labels_path, dtype=np.uint8).reshape(source["shape"])
    instances = source["instances"]
    seg = highdicom.seg.segread(seg_path)
    failures = []
    if seg.get_segment_description(1).segmented_property_category != codes.cid7150.AnatomicalStructure:
        failures.append("segment 1: category is not CID 7150 Anatomical Structure")
    to_word = {}
    for number in seg.segment_numbers:
        d = seg.get_segment_description(number)
        name = d.segment_label
        to_word[number] = WORD[name]
        want_type, want_side = EXPECTED_CODES[name]
        if d.segmented_property_type != want_type:
            failures.append(f"{name}: type {d.segmented_property_type} != {want_type}")
        # The modifier sits inside the type's code item (PS3.3 C.8.20.2).
        modifiers = list(getattr(d.SegmentedPropertyTypeCodeSequence[0], "SegmentedPropertyTypeModifierCodeSequence", []))
        side = highdicom.sr.CodedConcept.from_dataset(modifiers[0]) if modifiers else None
        if (side is None) != (want_side is None) or (side is not None and side != want_side):
            failures.append(f"{name}: laterality {side} != {want_side}")
        if d.SegmentAlgorithmType != "AUTOMATIC" or d.SegmentAlgorithmName != "lcovnet":
            failures.append(f"{name}: algorithm {d.SegmentAlgorithmType} {d.SegmentAlgorithmName}")
    present = sorted(int(v) for v in np.unique(expected) if v != 0)
    if sorted(to_word.values()) != present:
        failures.append(f"segments {sorted(to_word.values())} != organs in the label map {present}")
    # Frames the SEG leaves out (empty) read as 0.
    pixels = seg.get_pixels_by_source_instance(source_sop_instance_uids=instances, combine_segments=True,
                                               relabel=False, ignore_spatial_locations=False, assert_missing_frames_are_empty=True)
    read = np.zeros_like(expected)
    for number, word in to_word.items():
        read[pixels == number] = word
    if read.shape != expected.shape:
        failures.append(f"shape {read.shape} != {expected.shape}")
    else:
        differ = int(np.count_nonzero(read != expected))
        if differ:
            failures.append(f"{differ} voxels differ from the label map")
    for f in failures:
        print(f)
    print("ok" if not failures else f"{len(failures)} failure(s)")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
