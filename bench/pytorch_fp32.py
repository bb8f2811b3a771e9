#!/usr/bin/python3
"""Benchmark peer: the PyTorch restatement of LCOV-Net in fp32 on one window (prints one JSON line)."""
import torch

import peer_common as common
import lcovnet_reference as reference

args = common.arguments(__doc__)
torch.set_num_threads(args.threads)
model = reference.load_model(args.weights)
x = torch.from_numpy(common.window(args.window))
with torch.no_grad():
    times = common.time_runs(lambda: model(x), args.repeat)
common.report("pytorch-fp32", args, times, version=torch.__version__)
