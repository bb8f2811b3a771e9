"""PyMIC's own LCOVNet (pip `PyMIC`, pymic.net.net3d.lcovnet), the framework the seed trained
its students with: the reference for `lcovnet model import` of a PyMIC checkpoint
(Tests/InferenceTests/PyMICImportTests). Run with .cache/torch-venv/bin/python.

  checkpoint -o ckpt.pt [--seed N]   random weights with non-trivial BatchNorm statistics, saved as
                                     PyMIC's agent saves them ({'iteration', 'model_state_dict', ...})
  forward --checkpoint ckpt.pt --input x.npy --output y.npy    logits of one window (eval mode; a
                                     PyMIC or an nnU-Net v1 checkpoint)
"""
import argparse
import contextlib
import io

import numpy as np
import torch
from pymic.net.net3d.lcovnet import LCOVNet

PARAMS = {"in_chns": 1, "class_num": 17, "feature_chns": [32, 64, 128, 256, 256], "multiscale_pred": False}


def network():
    with contextlib.redirect_stdout(io.StringIO()):   # the class prints its parameters
        return LCOVNet(dict(PARAMS))


def randomize(net):
    """Non-trivial BatchNorm, so that folding it into the convolutions is tested."""
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm3d):
            n = module.num_features
            module.weight.data = torch.rand(n) * 1.5 + 0.25
            module.bias.data = torch.randn(n) * 0.2
            module.running_mean = torch.randn(n) * 0.3
            module.running_var = torch.rand(n) * 1.5 + 0.5


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["checkpoint", "forward"])
    parser.add_argument("-o", "--output")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint")
    parser.add_argument("--input")
    args = parser.parse_args()
    torch.set_num_threads(2)
    if args.command == "checkpoint":
        torch.manual_seed(args.seed)
        net = network()
        randomize(net)
        torch.save({"iteration": 1000, "valid_pred": 0.5, "model_state_dict": net.state_dict(), "optimizer_state_dict": {}}, args.output)
    else:
        net = network()
        saved = torch.load(args.checkpoint, map_location="cpu")
        state = saved["model_state_dict"] if "model_state_dict" in saved else saved["state_dict"]   # PyMIC's or nnU-Net v1's
        net.load_state_dict({k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()})
        net.eval()
        with torch.no_grad():
            y = net(torch.from_numpy(np.load(args.input)))
        np.save(args.output, y.numpy().astype(np.float32))


if __name__ == "__main__":
    main()
