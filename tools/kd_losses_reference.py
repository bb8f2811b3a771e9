#!/usr/bin/env python3
"""PyTorch statement of the training and distillation losses, as ../shared/docs/LCOVNET.md
defines them, used to check lcovnet's Swift losses and their gradients with autograd.

Usage: kd_losses_reference.py DIR C N
DIR holds raw little-endian float32 files student.f32, teacher.f32 (C×N, class-major), and
labels.u8 (N), plus norms.f64 (student and teacher feature norms). Prints JSON with each loss
and writes grad_<loss>.f32 (C×N) next to them.
"""
import json
import sys

import numpy as np
import torch
import torch.nn.functional as F


def dice_loss(z, y, c, eps=1e-5):
    p = F.softmax(z, dim=0)
    g = F.one_hot(y, c).T.to(z.dtype)
    inter = (p * g).sum(1)
    return 1 - ((2 * inter + eps) / (p.sum(1) + g.sum(1) + eps)).mean()


def cross_entropy(z, y):
    return F.cross_entropy(z.T, y)


def class_affinity(zs, zt):
    ps, pt = F.softmax(zs, dim=0), F.softmax(zt, dim=0)
    a_s, a_t = ps @ ps.T, pt @ pt.T
    return 1 - F.cosine_similarity(a_s, a_t, dim=0).mean()


def feature_norm_kd(zs, zt, norm_s, norm_t):
    q_t = F.softmax(zt / norm_t, dim=0)
    log_q_s = F.log_softmax(zs / norm_s, dim=0)
    return -(q_t * log_q_s).sum(0).mean()


def main():
    folder, c, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    load = lambda name: torch.tensor(np.fromfile(f"{folder}/{name}.f32", dtype="<f4").reshape(c, n), dtype=torch.float64)
    zs, zt = load("student"), load("teacher")
    y = torch.tensor(np.fromfile(f"{folder}/labels.u8", dtype=np.uint8).astype(np.int64))
    norm_s, norm_t = (float(v) for v in np.fromfile(f"{folder}/norms.f64", dtype="<f8"))
    out = {}
    for name, fn in [("dice", lambda z, ns: dice_loss(z, y, c)), ("ce", lambda z, ns: cross_entropy(z, y)),
                     ("cakd", lambda z, ns: class_affinity(z, zt)),
                     ("mskd", lambda z, ns: feature_norm_kd(z, zt, ns, norm_t))]:
        z = zs.clone().requires_grad_(True)
        ns = torch.tensor(norm_s, dtype=torch.float64, requires_grad=True)
        loss = fn(z, ns)
        loss.backward()
        out[name] = loss.item()
        z.grad.numpy().astype("<f4").tofile(f"{folder}/grad_{name}.f32")
        if ns.grad is not None:
            out[name + "_norm_grad"] = ns.grad.item()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
