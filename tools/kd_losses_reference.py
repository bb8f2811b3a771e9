#!/usr/bin/env python3
"""PyTorch statement of the training and distillation losses, as ../shared/docs/LCOVNET.md
defines them, used to check lcovnet's Swift losses and their gradients with autograd.

Usage: kd_losses_reference.py DIR C N
DIR holds raw little-endian float32 files student.f32, teacher.f32 (C×N, class-major), and
labels.u8 (N), optionally unlabelled.u8 (C flags) with labels_partial.u8 (N) for the marginal
losses of partial labels, plus features_student.f32 and features_teacher.f32 (F_S×N and F_T×N, channel-major: the decoder
features whose per-voxel L2 norms are MSKD's temperatures). Prints JSON with each loss and writes
grad_<loss>.f32 (C×N) next to them, and grad_mskd_features.f32 (F×N) for the student's features.
"""
import json
import os
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


def marginal_segmentation(z, y, c, unlabelled, eps=1e-5):
    """Dice + cross-entropy with the unlabelled classes' probabilities added to background's
    (the marginal losses for partial labels), Dice over the labelled classes only."""
    p = F.softmax(z, dim=0)
    labelled = [k for k in range(1, c) if not unlabelled[k]]
    q = torch.stack([p[0] + sum(p[k] for k in range(c) if unlabelled[k])] + [p[k] for k in labelled])
    index = torch.zeros(c, dtype=torch.int64)
    for i, k in enumerate(labelled):
        index[k] = i + 1
    ym = index[y]
    g = F.one_hot(ym, len(labelled) + 1).T.to(z.dtype)
    dice = 1 - ((2 * (q * g).sum(1) + eps) / (q.sum(1) + g.sum(1) + eps)).mean()
    return dice - torch.log(q.gather(0, ym[None])).mean()


def class_affinity(zs, zt):
    ps, pt = F.softmax(zs, dim=0), F.softmax(zt, dim=0)
    a_s, a_t = ps @ ps.T, pt @ pt.T
    return 1 - F.cosine_similarity(a_s, a_t, dim=0).mean()


def feature_norm_kd(zs, zt, fs, ft):
    # Temperature per voxel: the L2 norm over channels of that voxel's decoder features.
    q_t = F.softmax(zt / ft.norm(dim=0), dim=0)
    log_q_s = F.log_softmax(zs / fs.norm(dim=0), dim=0)
    return -(q_t * log_q_s).sum(0).mean()


def main():
    folder, c, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    load = lambda name: torch.tensor(np.fromfile(f"{folder}/{name}.f32", dtype="<f4").reshape(c, n), dtype=torch.float64)
    zs, zt = load("student"), load("teacher")
    y = torch.tensor(np.fromfile(f"{folder}/labels.u8", dtype=np.uint8).astype(np.int64))
    load_f = lambda name: torch.tensor(np.fromfile(f"{folder}/{name}.f32", dtype="<f4").reshape(-1, n), dtype=torch.float64)
    f_s, f_t = load_f("features_student"), load_f("features_teacher")
    unlabelled = np.fromfile(f"{folder}/unlabelled.u8", dtype=np.uint8).astype(bool) if os.path.exists(f"{folder}/unlabelled.u8") else None
    y_partial = torch.tensor(np.fromfile(f"{folder}/labels_partial.u8", dtype=np.uint8).astype(np.int64)) \
        if unlabelled is not None else None
    out = {}
    extra = [] if unlabelled is None else [("marginal", lambda z, fs: marginal_segmentation(z, y_partial, c, unlabelled))]
    for name, fn in extra + [("dice", lambda z, fs: dice_loss(z, y, c)), ("ce", lambda z, fs: cross_entropy(z, y)),
                     ("cakd", lambda z, fs: class_affinity(z, zt)),
                     ("mskd", lambda z, fs: feature_norm_kd(z, zt, fs, f_t))]:
        z = zs.clone().requires_grad_(True)
        fs = f_s.clone().requires_grad_(True)
        loss = fn(z, fs)
        loss.backward()
        out[name] = loss.item()
        z.grad.numpy().astype("<f4").tofile(f"{folder}/grad_{name}.f32")
        if fs.grad is not None:
            fs.grad.numpy().astype("<f4").tofile(f"{folder}/grad_{name}_features.f32")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
