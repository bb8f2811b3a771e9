#!/usr/bin/env python3
"""Reads an lcovnet RT Structure Set back with rt-utils and scores its masks against the label map.
Usage: check_rtstruct.py RTSTRUCT.dcm SERIES_DIR LABELS.raw SOURCE.json

The images must be square with square pixels: rt-utils 1.2.7 swaps PixelSpacing's two values and
its masks' axes otherwise. LABELS.raw and SOURCE.json as for check_seg.py (uint8 WORD ids, slices × rows × columns in the
images' own row order; the SOP Instance UID of each slice). Prints "<organ> <dice>" per ROI and "ok" when every ROI is an organ
of the label map, every organ has an ROI, every Dice is at least 0.99 and each ROI is ORGAN.
"""
import json
import sys

import numpy as np
from rt_utils import RTStructBuilder

WORD = {"liver": 1, "spleen": 2, "left kidney": 3, "right kidney": 4, "stomach": 5, "gallbladder": 6, "esophagus": 7,
        "pancreas": 8, "duodenum": 9, "colon": 10, "intestine": 11, "adrenal": 12, "rectum": 13, "bladder": 14,
        "left head of femur": 15, "right head of femur": 16}


def main():
    rt_path, series_dir, labels_path, source_path = sys.argv[1:5]
    source = json.load(open(source_path))
    expected = np.fromfile(labels_path, dtype=np.uint8).reshape(source["shape"])
    order = {uid: k for k, uid in enumerate(source["instances"])}
    rt = RTStructBuilder.create_from(dicom_series_path=series_dir, rt_struct_path=rt_path)
    failures = []
    names = rt.get_roi_names()
    present = sorted(int(v) for v in np.unique(expected) if v != 0)
    if sorted(WORD[n] for n in names) != present:
        failures.append(f"ROIs {names} are not the organs {present}")
    for observation in rt.ds.RTROIObservationsSequence:
        if observation.RTROIInterpretedType != "ORGAN":
            failures.append(f"ROI {observation.ReferencedROINumber}: interpreted type {observation.RTROIInterpretedType}")
    for name in names:
        mask = rt.get_roi_mask_by_name(name)            # [row, column, image in rt-utils' order]
        read = np.zeros(expected.shape, dtype=bool)
        for i, image in enumerate(rt.series_data):
            read[order[image.SOPInstanceUID]] = mask[:, :, i]
        truth = expected == WORD[name]
        dice = 2.0 * np.count_nonzero(read & truth) / (np.count_nonzero(read) + np.count_nonzero(truth))
        print(f"{name} {dice:.4f}")
        if dice < 0.99:
            failures.append(f"{name}: Dice {dice:.4f} < 0.99")
    for f in failures:
        print(f)
    print("ok" if not failures else f"{len(failures)} failure(s)")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
