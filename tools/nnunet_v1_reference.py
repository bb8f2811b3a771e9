"""nnU-Net v1's own code (pip `nnunet==1.7.1`) as the reference for checkpoints trained with it
(Tests/PreprocessTests/NNUNetV1PreparationTests). Run with .cache/torch-venv/bin/python.

  preprocess IMAGE.nii.gz --preparation preparation.json -o prepared.f32
      nnU-Net v1's test-case preprocessing (GenericPreprocessor.preprocess_test_case: crop to the
      non-zero box, resample_patient, normalization) of one scan with the settings that
      tools/export_nnunet_v1.py writes, as raw little-endian float32 in (z, y, x) order (x
      fastest); prints the crop box and the shape (z, y, x) as JSON.
"""
import argparse
import contextlib
import io
import json

import numpy as np
from nnunet.preprocessing.preprocessing import GenericPreprocessor


def preprocessor(prepared):
    """nnU-Net's preprocessor for the settings an exported preparation.json states."""
    normalization = prepared["input"]["normalization"]
    if normalization["mode"] == "clip-zscore":
        scheme = "CT"
        properties = {0: {"percentile_00_5": normalization["hu_min"], "percentile_99_5": normalization["hu_max"],
                          "mean": normalization["mean"], "sd": normalization["sd"]}}
    else:
        scheme, properties = "nonCT", None
    return GenericPreprocessor({0: scheme}, {0: False}, [0, 1, 2], properties)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["preprocess"])
    parser.add_argument("image")
    parser.add_argument("--preparation", required=True)
    parser.add_argument("-o", "--output", required=True)
    args = parser.parse_args()
    with open(args.preparation) as f:
        prepared = json.load(f)
    x, y, z = prepared["input"]["resample"]["spacing_mm"]
    with contextlib.redirect_stdout(io.StringIO()):   # nnU-Net prints its shapes
        data, _, properties = preprocessor(prepared).preprocess_test_case([args.image], np.array([z, y, x]))
    data[0].astype("<f4").tofile(args.output)
    print(json.dumps({"crop_bbox": [[int(a), int(b)] for a, b in properties["crop_bbox"]], "shape": list(data[0].shape)}))


if __name__ == "__main__":
    main()
