#!/usr/bin/python3
"""Training-mode reference for lcovnet's training engine: PyTorch autograd through the project's
restatement of LCOV-Net (lcovnet_reference.py), in float64, with deep-supervision outputs.

  grad --weights W.safetensors --input x.npy --upstream DIR --output out.safetensors
      x: N x 1 x D x H x W. DIR holds logits{s}.npy and features{s}.npy (s = 0 full resolution
      ... 3 = 1/8): upstream gradients, so the scalar is sum_s <logits_s, U_s> + <features_s, V_s>.
      The model runs in training mode (batch statistics; dropout off: lcovnet does not train
      with dropout). Writes the gradient of every parameter under its state-dict key, the
      updated running statistics, and logits{s}/features{s}.
"""
import argparse
import os
import sys

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lcovnet_reference import load_model, save_safetensors  # noqa: E402


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("grad")
    p.add_argument("--weights", required=True)
    p.add_argument("--input", required=True)
    p.add_argument("--upstream", required=True)
    p.add_argument("--output", required=True)
    args = parser.parse_args(argv)

    torch.set_num_threads(2)
    model = load_model(args.weights).double().train()
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0
    x = torch.from_numpy(np.load(args.input).astype(np.float64))
    logits, features = model.forward_all(x)
    total = 0
    for s in range(4):
        u = torch.from_numpy(np.load(f"{args.upstream}/logits{s}.npy").astype(np.float64))
        v = torch.from_numpy(np.load(f"{args.upstream}/features{s}.npy").astype(np.float64))
        total = total + (logits[s] * u).sum() + (features[s] * v).sum()
    total.backward()
    out = {}
    for name, param in model.named_parameters():
        out[name] = param.grad.float()
    for name, buf in model.named_buffers():
        if "running" in name:
            out[name] = buf.float()
    for s in range(4):
        out[f"logits{s}"] = logits[s].detach().float()
        out[f"features{s}"] = features[s].detach().float()
    save_safetensors(out, args.output, {"scalar": float(total)})


if __name__ == "__main__":
    main(sys.argv[1:])
