#!/usr/bin/python3
"""Export an nnU-Net v1 LCOV-Net checkpoint (the seed's nnUNetTrainerV2_LCOV student) for
`lcovnet model import`: the weights as safetensors and the preparation nnU-Net trained it with.

Usage:
  /usr/bin/python3 tools/export_nnunet_v1.py model_final_checkpoint.model -o OUT
  lcovnet model import OUT/weights.safetensors --preparation OUT/preparation.json -o models/nnunet-student

Reads the checkpoint (torch.save of {'state_dict', ...}) and the plans pickled beside it
(`model_final_checkpoint.model.pkl`, or --plans), and writes OUT/weights.safetensors and
OUT/preparation.json: nnU-Net v1's crop to the non-zero box, its resampling to the stage's
target spacing (cubic, nearest along an anisotropic axis), its normalization scheme ("nonCT":
per-scan z-score; "CT": clip to the training set's 0.5/99.5 percentiles, its mean and sd) and
the patch size as the window. Needs torch and numpy; nnU-Net itself need not be installed.
"""
import argparse
import json
import os
import pickle
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lcovnet_reference import save_safetensors, state_dict_of  # noqa: E402

WORD_CLASSES = 17


class PlansUnpickler(pickle.Unpickler):
    """Plans hold numpy arrays and OrderedDicts only; nnU-Net classes are not needed to read them."""

    def find_class(self, module, name):
        if module.startswith("numpy") or module in ("collections", "builtins", "_codecs"):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"the plans refer to {module}.{name}, which this exporter does not load")


def preparation(info):
    """The lcovnet manifest `input` and window for a trainer's pickled info ({'init', 'plans', ...})."""
    plans = info["plans"] if "plans" in info else info
    stages = plans["plans_per_stage"]
    init = info.get("init") or ()
    stage = init[5] if len(init) > 5 and init[5] is not None else max(stages)
    stage_plan = stages[stage]
    notes = [f"nnU-Net v1 checkpoint, trainer {info.get('name', 'unknown')}, stage {stage}"]

    transpose = [int(a) for a in plans.get("transpose_forward", [0, 1, 2])]
    if transpose != [0, 1, 2]:
        raise SystemExit(f"transpose_forward {transpose}: only the identity is supported (the network would see permuted axes)")
    classes = int(plans.get("num_classes", WORD_CLASSES - 1)) + 1
    if classes != WORD_CLASSES:
        raise SystemExit(f"the plans have {classes} classes with background; lcovnet models carry WORD's {WORD_CLASSES}")
    modalities = plans.get("num_modalities", 1)
    if modalities != 1:
        raise SystemExit(f"{modalities} input modalities: LCOV-Net here takes one CT channel")

    z, y, x = (float(s) for s in stage_plan["current_spacing"])
    scheme = plans["normalization_schemes"][0]
    masked = bool(plans.get("use_mask_for_norm", {0: False})[0])
    if scheme == "CT":
        p = plans["dataset_properties"]["intensityproperties"][0]
        normalization = {"mode": "clip-zscore", "hu_min": float(p["percentile_00_5"]), "hu_max": float(p["percentile_99_5"]),
                         "mean": float(p["mean"]), "sd": float(p["sd"])}
        if masked:
            raise SystemExit("scheme CT with use_mask_for_norm: the masked variant is not supported")
    elif scheme == "nonCT":
        if masked:
            raise SystemExit("scheme nonCT with use_mask_for_norm (z-score inside the non-zero mask) is not supported")
        normalization = {"mode": "zscore"}
    else:
        raise SystemExit(f"normalization scheme {scheme!r} is not supported (CT or nonCT)")
    notes.append(f"normalization scheme {scheme}, target spacing (z, y, x) {z} x {y} x {x} mm")

    d, h, w = (int(s) for s in stage_plan["patch_size"])
    return {
        "input": {
            "resample": {"mode": "nnunet-v1", "spacing_mm": [x, y, z], "anisotropy_threshold": 3},
            "normalization": normalization,
            "crop_to_nonzero": True,
        },
        "window": [d, h, w],
        "notes": notes,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="model_final_checkpoint.model (or model_best.model)")
    parser.add_argument("--plans", help="the trainer's pickle (default: CHECKPOINT.pkl)")
    parser.add_argument("-o", "--output", required=True, help="folder for weights.safetensors and preparation.json")
    args = parser.parse_args()

    import torch
    plans_path = args.plans or args.checkpoint + ".pkl"
    with open(plans_path, "rb") as f:
        info = PlansUnpickler(f).load()
    prepared = preparation(info)
    checkpoint = torch.load(args.checkpoint, map_location="cpu")
    state = {k: v for k, v in state_dict_of(checkpoint).items()}
    os.makedirs(args.output, exist_ok=True)
    save_safetensors(state, os.path.join(args.output, "weights.safetensors"), {"source": os.path.basename(args.checkpoint)})
    with open(os.path.join(args.output, "preparation.json"), "w") as f:
        json.dump(prepared, f, indent=2)
    print(f"{args.output}: {len(state)} tensors; window {prepared['window']}; {'; '.join(prepared['notes'])}")


if __name__ == "__main__":
    main()
