#!/usr/bin/env python3
"""Maps a TotalSegmentator multilabel map to WORD organ ids, for validation on real CT only.
Usage: totalseg_to_word.py MAP_TO_BINARY_PY REF.nii.gz OUT.nii.gz [--task total]
                           [--check ML.nii.gz BINARY_DIR]

The id→name table is read from TotalSegmentator's own totalsegmentator/map_to_binary.py (the
`class_map` literal, parsed with ast, never imported or retyped), so it follows the pinned
release. name→WORD is the small table below. TotalSegmentator has no rectum (13), and it labels
whole femurs, not femoral heads (15, 16): those WORD organs are left out, not approximated.
--check verifies the id→name table on TotalSegmentator's own outputs: a multilabel map and the
per-organ binary masks the same model wrote for the same scan must agree voxel for voxel.
"""
import argparse
import ast
import os
import sys

import nibabel as nib
import numpy as np

WORD_NAMES = {1: "liver", 2: "spleen", 3: "left kidney", 4: "right kidney", 5: "stomach",
              6: "gallbladder", 7: "esophagus", 8: "pancreas", 9: "duodenum", 10: "colon",
              11: "intestine", 12: "adrenal", 13: "rectum", 14: "bladder",
              15: "left femoral head", 16: "right femoral head"}

# TotalSegmentator name → WORD id. Both sides are patient left/right. WORD has one adrenal id.
NAME_TO_WORD = {"liver": 1, "spleen": 2, "kidney_left": 3, "kidney_right": 4, "stomach": 5,
                "gallbladder": 6, "esophagus": 7, "pancreas": 8, "duodenum": 9, "colon": 10,
                "small_bowel": 11, "adrenal_gland_left": 12, "adrenal_gland_right": 12,
                "urinary_bladder": 14}


def class_map(path):
    """The module-level `class_map = {...}` literal of map_to_binary.py (later derived entries,
    like total_v3, are statements and are not needed here)."""
    tree = ast.parse(open(path).read(), path)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "class_map" for t in node.targets):
            return ast.literal_eval(node.value)
    sys.exit(f"{path}: no class_map literal")


def labels(path):
    image = nib.load(path)
    return image, np.asanyarray(image.dataobj).astype(np.int32)


def check_names(names, multilabel, binary_dir):
    """Each <name>.nii.gz mask in binary_dir must be exactly where the multilabel map holds name's id."""
    _, ml = labels(multilabel)
    checked = 0
    for i, name in names.items():
        path = os.path.join(binary_dir, f"{name}.nii.gz")
        if not os.path.exists(path):
            continue
        mask = labels(path)[1] > 0
        if mask.shape != ml.shape or not np.array_equal(mask, ml == i):
            sys.exit(f"id→name check failed: {name} is not id {i} in {multilabel}")
        checked += mask.any()
    print(f"id→name check: {checked} non-empty organ masks agree with {os.path.basename(multilabel)}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("map_to_binary")
    p.add_argument("reference")
    p.add_argument("out")
    p.add_argument("--task", default="total", help="class_map key: `--fast --ml -fs` runs 'total'")
    p.add_argument("--check", nargs=2, metavar=("ML", "BINARY_DIR"))
    a = p.parse_args()

    names = class_map(a.map_to_binary)[a.task]
    image, ref = labels(a.reference)
    present = set(np.unique(ref).tolist()) - {0}
    # The task must name every id in the reference (v1's 104 classes would not cover 117).
    if not present <= set(names):
        sys.exit(f"task {a.task!r} lacks ids {sorted(present - set(names))} found in the reference")
    if a.check:
        check_names(names, *a.check)

    lut = np.zeros(max(max(names), int(ref.max())) + 1, np.uint8)
    for i, name in names.items():
        lut[i] = NAME_TO_WORD.get(name, 0)
    word = lut[ref]
    out = nib.Nifti1Image(word, image.affine, image.header)
    out.set_data_dtype(np.uint8)
    out.header.set_slope_inter(1, 0)
    nib.save(out, a.out)

    counts = np.bincount(word.ravel(), minlength=17)
    print(f"{'WORD':>4}  {'organ':<20}{'voxels':>9}")
    for w in range(1, 17):
        note = "" if counts[w] else ("  (not in TotalSegmentator)" if w in (13, 15, 16) else "  (absent in this scan)")
        print(f"{w:>4}  {WORD_NAMES[w]:<20}{counts[w]:>9}{note}")
    print(f"{sum(counts[1:] > 0)} WORD organs present; written {a.out}")


if __name__ == "__main__":
    main()
