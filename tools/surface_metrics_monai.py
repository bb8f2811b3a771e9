"""MONAI's Dice, HD95 and normalized surface Dice of every label of two raw UInt8 label maps, as JSON:
the independent reference for Volumes.SurfaceDistances (Tests/VolumesTests/SurfaceDistancesTests).
Usage: surface_metrics_monai.py PRED.raw REF.raw NX NY NZ SX SY SZ TOLERANCE_MM LABEL..."""
import json
import sys

import numpy as np
import torch
from monai.metrics import compute_dice, compute_hausdorff_distance, compute_surface_dice

pred_path, ref_path = sys.argv[1:3]
nx, ny, nz = (int(v) for v in sys.argv[3:6])
spacing = [float(v) for v in sys.argv[6:9]]
tolerance = float(sys.argv[9])
labels = [int(v) for v in sys.argv[10:]]
# x fastest on disk: numpy's (z, y, x) order, turned to (x, y, z) so that spacing lines up.
pred = np.fromfile(pred_path, dtype=np.uint8).reshape(nz, ny, nx).transpose(2, 1, 0)
ref = np.fromfile(ref_path, dtype=np.uint8).reshape(nz, ny, nx).transpose(2, 1, 0)
out = {}
for label in labels:
    p = torch.from_numpy(pred == label)[None, None].float()
    r = torch.from_numpy(ref == label)[None, None].float()
    hd = compute_hausdorff_distance(p, r, include_background=True, percentile=95, spacing=spacing).item()
    nsd = compute_surface_dice(p, r, [tolerance], include_background=True, spacing=spacing).item()
    # ignore_empty=False: a label absent from the reference scores 0 where predicted (1 where not).
    dice = compute_dice(p, r, include_background=True, ignore_empty=False).item()
    out[str(label)] = {"dice": dice, "hd95": None if not np.isfinite(hd) else hd, "hd95_infinite": bool(np.isinf(hd)),
                       "nsd": None if np.isnan(nsd) else nsd}
print(json.dumps(out))
