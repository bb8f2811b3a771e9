#!/usr/bin/env python3
"""Per-organ Dice of an lcovnet segmentation against a WORD-id reference (validation only).
Usage: score_real.py PRED.nii.gz REF.nii.gz [--json FILE]

PRED is lcovnet's <out>/<stem>/segmentation.nii.gz; REF is example_word_labels.nii.gz from
scripts/fetch-real-validation.sh. Both must lie on the same grid (shape equal, affine within
1e-3): Dice of arrays on different grids would be meaningless, so that is an error, not a resample.
Dice is scored for the WORD organs present in REF, and averaged over them; an organ REF lacks
(no rectum or femoral heads in TotalSegmentator, organs outside the field of view) has no Dice.
Each Dice is computed twice, here and by scipy.spatial.distance.dice, and both must agree.
"""
import argparse
import json
import sys

import nibabel as nib
import numpy as np
from scipy.spatial.distance import dice as scipy_dice_dissimilarity

WORD_NAMES = {1: "liver", 2: "spleen", 3: "left kidney", 4: "right kidney", 5: "stomach",
              6: "gallbladder", 7: "esophagus", 8: "pancreas", 9: "duodenum", 10: "colon",
              11: "intestine", 12: "adrenal", 13: "rectum", 14: "bladder",
              15: "left femoral head", 16: "right femoral head"}


def dice(a, b):
    """2|A∩B| / (|A|+|B|) on boolean masks; both empty cannot happen (organs come from REF)."""
    return 2.0 * np.count_nonzero(a & b) / (np.count_nonzero(a) + np.count_nonzero(b))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("pred")
    p.add_argument("ref")
    p.add_argument("--json", metavar="FILE")
    a = p.parse_args()

    images = [nib.load(path) for path in (a.pred, a.ref)]
    if images[0].shape != images[1].shape:
        sys.exit(f"grid mismatch: shape {images[0].shape} (pred) vs {images[1].shape} (ref)")
    if not np.allclose(images[0].affine, images[1].affine, rtol=0, atol=1e-3):
        sys.exit(f"grid mismatch: affines differ by more than 1e-3\npred:\n{images[0].affine}\nref:\n{images[1].affine}")
    pred, ref = (np.asanyarray(im.dataobj).astype(np.int32) for im in images)

    rows = []
    for w in sorted(set(np.unique(ref).tolist()) - {0}):
        p_mask, r_mask = pred == w, ref == w
        d = dice(p_mask, r_mask)
        # scipy gives the dissimilarity (1 − Dice) of boolean vectors, computed independently.
        cross = 1.0 - scipy_dice_dissimilarity(p_mask.ravel(), r_mask.ravel())
        if abs(d - cross) > 1e-9:
            sys.exit(f"Dice cross-check failed for {WORD_NAMES[w]}: {d} vs scipy {cross}")
        rows.append({"id": w, "organ": WORD_NAMES.get(w, str(w)), "dice": d,
                     "ref_voxels": int(r_mask.sum()), "pred_voxels": int(p_mask.sum())})
    mean = float(np.mean([r["dice"] for r in rows])) if rows else float("nan")
    # Organs predicted but absent in REF get no Dice; listed so stray labels are still seen.
    extra = {WORD_NAMES.get(w, str(w)): int((pred == w).sum())
             for w in sorted(set(np.unique(pred).tolist()) - set(np.unique(ref).tolist()) - {0})}

    print(f"{'WORD':>4}  {'organ':<20}{'Dice':>7}{'ref vox':>9}{'pred vox':>10}")
    for r in rows:
        print(f"{r['id']:>4}  {r['organ']:<20}{r['dice']:>7.3f}{r['ref_voxels']:>9}{r['pred_voxels']:>10}")
    print(f"mean Dice over {len(rows)} organs: {mean:.3f}")
    if extra:
        print("predicted but not in the reference (voxels): " + ", ".join(f"{k} {v}" for k, v in extra.items()))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"pred": a.pred, "ref": a.ref, "organs": rows, "mean_dice": mean,
                       "predicted_not_in_reference": extra}, f, indent=2)


if __name__ == "__main__":
    main()
