#!/usr/bin/env python3
"""Benchmark peer: ONNX Runtime on LCOV-Net, int8 static QDQ per-channel (and fp32), one window.

Needs torch (export), onnx and onnxruntime: run with the venv scripts/bench.sh makes under
.cache/bench-venv (Debian's torch plus pip's onnxruntime). Prints one JSON line per precision.
The model is exported with dynamic spatial axes and calibrated (MinMax, u8 activations, s8
per-channel weights, QDQ format, ONNX Runtime's own recipe) on small synthetic windows, then
timed on the requested window.
"""
import hashlib
import os

import numpy as np
import onnxruntime as ort
import torch
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

import peer_common as common
import lcovnet_reference as reference

ort.set_default_logger_severity(3)

args = common.arguments(__doc__)
os.makedirs(args.cache, exist_ok=True)
with open(args.weights, "rb") as f:
    key = hashlib.sha256(f.read()).hexdigest()[:16]
fp32_path = os.path.join(args.cache, f"lcovnet-{key}-fp32.onnx")
int8_path = os.path.join(args.cache, f"lcovnet-{key}-int8-qdq.onnx")

if not os.path.exists(fp32_path):
    model = reference.load_model(args.weights)
    dims = {0: "n", 2: "d", 3: "h", 4: "w"}
    torch.onnx.export(model, torch.from_numpy(common.window([32, 64, 64])), fp32_path, opset_version=13,
                      input_names=["window"], output_names=["logits"], dynamic_axes={"window": dims, "logits": dims})

if not os.path.exists(int8_path):
    class Reader(CalibrationDataReader):
        def __init__(self):
            self.windows = iter([{"window": common.window([32, 64, 64], seed=s)} for s in range(2)])

        def get_next(self):
            return next(self.windows, None)

    quantize_static(fp32_path, int8_path, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)

x = common.window(args.window)
for precision, path in (("int8", int8_path), ("fp32", fp32_path)):
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    times = common.time_runs(lambda: session.run(None, {"window": x}), args.repeat)
    common.report(f"onnxruntime-{precision}", args, times, version=ort.__version__)
