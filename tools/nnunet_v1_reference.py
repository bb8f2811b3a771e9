"""nnU-Net v1's own code (pip `nnunet==1.7.1`) as the reference for checkpoints trained with it
(Tests/PreprocessTests/NNUNetV1PreparationTests). Run with .cache/torch-venv/bin/python.

  preprocess IMAGE.nii.gz --preparation preparation.json -o prepared.f32
      nnU-Net v1's test-case preprocessing (GenericPreprocessor.preprocess_test_case: crop to the
      non-zero box, resample_patient, normalization) of one scan with the settings that
      tools/export_nnunet_v1.py writes, as raw little-endian float32 in (z, y, x) order (x
      fastest); prints the crop box and the shape (z, y, x) as JSON.
  checkpoint -o model_final_checkpoint.model [--seed N] [--scheme nonCT|CT]
      random LCOV-Net weights with non-trivial BatchNorm saved as nnU-Net v1's trainer saves a
      checkpoint ({'epoch', 'state_dict', 'optimizer_state_dict', 'plot_stuff', ...}, keys with
      DataParallel's 'module.' prefix), and beside it the trainer's pickle with plans as nnU-Net
      v1's 3D planner writes them for the seed's WORD task (3 x 0.977 x 0.977 mm, patch
      64 x 160 x 160, 16 organs). The seed's nnU-Net LCOV_Net is not published as a package;
      its module tree (read in HiLab-git/LCOVNet-and-KD) is PyMIC's LCOVNet's, whose class makes
      the weights here (pymic_lcovnet.py forward computes the reference logits).
"""
import argparse
import contextlib
import io
import json

import pickle
from collections import OrderedDict

import numpy as np


def preprocessor(prepared):
    """nnU-Net's preprocessor for the settings an exported preparation.json states."""
    normalization = prepared["input"]["normalization"]
    if normalization["mode"] == "clip-zscore":
        scheme = "CT"
        properties = {0: {"percentile_00_5": normalization["hu_min"], "percentile_99_5": normalization["hu_max"],
                          "mean": normalization["mean"], "sd": normalization["sd"]}}
    else:
        scheme, properties = "nonCT", None
    from nnunet.preprocessing.preprocessing import GenericPreprocessor
    return GenericPreprocessor({0: scheme}, {0: False}, [0, 1, 2], properties)


def seed_plans(scheme):
    """Plans in nnU-Net v1's layout (ExperimentPlanner3D_v21) for a 16-organ CT task."""
    stage = {"batch_size": 2, "num_pool_per_axis": [4, 5, 5], "patch_size": np.array([64, 160, 160]),
             "median_patient_size_in_voxels": np.array([106, 407, 407]), "current_spacing": np.array([3.0, 0.9765625, 0.9765625]),
             "original_spacing": np.array([3.0, 0.9765625, 0.9765625]), "do_dummy_2D_data_aug": False,
             "pool_op_kernel_sizes": [[1, 2, 2], [2, 2, 2], [2, 2, 2], [2, 2, 2], [1, 2, 2]],
             "conv_kernel_sizes": [[1, 3, 3]] + [[3, 3, 3]] * 5}
    intensity = OrderedDict([("median", 63.0), ("mean", 54.3), ("sd", 83.1), ("mn", -1024.0), ("mx", 3071.0),
                             ("percentile_99_5", 241.0), ("percentile_00_5", -167.0)])
    return {"num_stages": 1, "num_modalities": 1, "modalities": {0: "CT"}, "normalization_schemes": OrderedDict([(0, scheme)]),
            "dataset_properties": {"intensityproperties": OrderedDict([(0, intensity)])},
            "list_of_npz_files": [], "original_spacings": [], "original_sizes": [], "preprocessed_data_folder": "",
            "num_classes": 16, "all_classes": list(range(1, 17)), "base_num_features": 32,
            "use_mask_for_norm": OrderedDict([(0, False)]), "keep_only_largest_region": None,
            "min_region_size_per_class": None, "min_size_per_class": None, "transpose_forward": [0, 1, 2],
            "transpose_backward": [0, 1, 2], "data_identifier": "nnUNetData_plans_v2.1", "plans_per_stage": {0: stage},
            "preprocessor_name": "GenericPreprocessor", "conv_per_stage": 2}


def write_checkpoint(path, seed, scheme):
    import torch
    from pymic_lcovnet import network, randomize
    torch.manual_seed(seed)
    net = network()
    randomize(net)
    state = OrderedDict(("module." + k, v) for k, v in net.state_dict().items())
    torch.save({"epoch": 300, "state_dict": state, "optimizer_state_dict": {}, "lr_scheduler_state_dict": None,
                "plot_stuff": ([1.0], [0.9], [0.5], [0.4]), "best_stuff": (299, 0.4, 0.5, 0.6), "amp_grad_scaler": {}}, path)
    info = {"init": ("plans.pkl", "all", "out", "dataset", True, 0, True, True, False), "name": "nnUNetTrainerV2_LCOV",
            "class": "<class 'nnunet.training.network_training.nnUNetTrainerV2_LCOV.nnUNetTrainerV2_LCOV'>",
            "plans": seed_plans(scheme)}
    with open(path + ".pkl", "wb") as f:
        pickle.dump(info, f)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["preprocess", "checkpoint"])
    parser.add_argument("image", nargs="?")
    parser.add_argument("--preparation")
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scheme", default="nonCT", choices=["nonCT", "CT"])
    args = parser.parse_args()
    if args.command == "checkpoint":
        write_checkpoint(args.output, args.seed, args.scheme)
        return
    with open(args.preparation) as f:
        prepared = json.load(f)
    x, y, z = prepared["input"]["resample"]["spacing_mm"]
    with contextlib.redirect_stdout(io.StringIO()):   # nnU-Net prints its shapes
        data, _, properties = preprocessor(prepared).preprocess_test_case([args.image], np.array([z, y, x]))
    data[0].astype("<f4").tofile(args.output)
    print(json.dumps({"crop_bbox": [[int(a), int(b)] for a, b in properties["crop_bbox"]], "shape": list(data[0].shape)}))


if __name__ == "__main__":
    main()
