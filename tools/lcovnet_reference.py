#!/usr/bin/python3
"""The project's own PyTorch restatement of LCOV-Net (docs/LCOVNET.md), for parity checks.

Written from the architecture description, with the reference code's module names so that its
state_dict keys (including the duplicated ``up*.conv`` / ``up*.conv1`` entries) match the
official checkpoint's.

Commands (run with Debian's /usr/bin/python3, which has torch):
  random  -o weights.safetensors [--seed N]      random weights, non-trivial BatchNorm statistics
  forward --weights W.safetensors --input x.npy --output y.npy [--threads N]
                                                  logits (1x17xDxHxW float32) of one window
  export  <checkpoint.pt> -o weights.safetensors  a PyTorch checkpoint's state_dict, as safetensors
"""
import argparse
import json
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

WIDTHS = [32, 64, 128, 256, 256]
CLASSES = 17


def conv_bn(cin, cout, kernel, padding, groups=1):
    return [nn.Conv3d(cin, cout, kernel, padding=padding, groups=groups), nn.BatchNorm3d(cout)]


class LACBHigh(nn.Module):
    """LACB-H: (1,1,3) conv, then (3,3,1) conv plus a pooled 1x1 attention that gates the first."""

    def __init__(self, cin, cout):
        super().__init__()
        self.conv1 = nn.Sequential(*conv_bn(cin, cout, (1, 1, 3), (0, 0, 1)), nn.ReLU6())
        self.conv2_1 = nn.Sequential(*conv_bn(cout, cout, (3, 3, 1), (1, 1, 0)), nn.ReLU6(), nn.Dropout(0.2))
        self.conv2_2 = nn.Sequential(
            nn.AvgPool3d(4, stride=2, padding=1),  # count_include_pad=True, as in the reference
            *conv_bn(cout, cout, 1, 0),
            nn.Upsample(scale_factor=2, mode="trilinear", align_corners=False))

    def forward(self, x):
        x = self.conv1(x)
        return self.conv2_1(x) + torch.sigmoid(self.conv2_2(x)) * x


class LACBLow(nn.Module):
    """LACB-L (bottleneck): depthwise (3,3,1) conv plus an unpooled 1x1 attention."""

    def __init__(self, cin, cout):
        super().__init__()
        self.conv1 = nn.Sequential(*conv_bn(cin, cout, (1, 1, 3), (0, 0, 1)), nn.ReLU6())
        self.conv2_1 = nn.Sequential(*conv_bn(cout, cout, (3, 3, 1), (1, 1, 0), groups=cout), nn.ReLU6(), nn.Dropout(0.2))
        self.conv2_2 = nn.Sequential(*conv_bn(cout, cout, 1, 0), nn.ReLU6(), nn.Dropout(0.2))

    def forward(self, x):
        x = self.conv1(x)
        return self.conv2_1(x) + torch.sigmoid(self.conv2_2(x)) * x


class Up(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        # Registered under two names, as the reference does, so the state_dict holds both.
        self.conv = self.conv1 = nn.Sequential(*conv_bn(cin, cout, 1, 0), nn.ReLU6(), nn.Dropout(0.2))

    def forward(self, x):
        return F.interpolate(self.conv(x), scale_factor=2, mode="trilinear", align_corners=False)


class LCOVNet(nn.Module):
    def __init__(self, in_channels=1, classes=CLASSES):
        super().__init__()
        f = WIDTHS
        self.Encode_block1 = LACBHigh(in_channels, f[0])
        self.Encode_block2 = LACBHigh(f[0], f[1])
        self.Encode_block3 = LACBHigh(f[1], f[2])
        self.Encode_block4 = LACBHigh(f[2], f[3])
        self.Encode_BottleNeck_block5 = LACBLow(f[3], f[4])
        self.up1, self.Decode_block1, self.segout1 = Up(f[4], f[3]), LACBHigh(2 * f[3], f[3]), nn.Conv3d(f[3], classes, 1)
        self.up2, self.Decode_block2, self.segout2 = Up(f[3], f[2]), LACBHigh(2 * f[2], f[2]), nn.Conv3d(f[2], classes, 1)
        self.up3, self.Decode_block3, self.segout3 = Up(f[2], f[1]), LACBHigh(2 * f[1], f[1]), nn.Conv3d(f[1], classes, 1)
        self.up4, self.Decode_block4, self.segout4 = Up(f[1], f[0]), LACBHigh(2 * f[0], f[0]), nn.Conv3d(f[0], classes, 1)

    def forward(self, x):
        return self.segout4(self.decoder_features(x)[0])

    def forward_all(self, x):
        """Deep-supervision forward: (logits, decoder features) per scale, full resolution first."""
        d = self.decoder_features(x)
        return [self.segout4(d[0]), self.segout3(d[1]), self.segout2(d[2]), self.segout1(d[3])], d

    def decoder_features(self, x):
        """The four decoder blocks' outputs, full resolution first."""
        e1 = self.Encode_block1(x)
        e2 = self.Encode_block2(F.max_pool3d(e1, 2))
        e3 = self.Encode_block3(F.max_pool3d(e2, 2))
        e4 = self.Encode_block4(F.max_pool3d(e3, 2))
        b = self.Encode_BottleNeck_block5(F.max_pool3d(e4, 2))
        d1 = self.Decode_block1(torch.cat([self.up1(b), e4], 1))
        d2 = self.Decode_block2(torch.cat([self.up2(d1), e3], 1))
        d3 = self.Decode_block3(torch.cat([self.up3(d2), e2], 1))
        d4 = self.Decode_block4(torch.cat([self.up4(d3), e1], 1))
        return [d4, d3, d2, d1]


def randomize(model, seed):
    """Default initialisation plus BatchNorm statistics far from identity, so folding is tested."""
    torch.manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.Conv3d):
            nn.init.kaiming_uniform_(m.weight, a=1.0)
            nn.init.uniform_(m.bias, -0.2, 0.2)
        elif isinstance(m, nn.BatchNorm3d):
            with torch.no_grad():
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.3, 0.3)
                m.running_mean.uniform_(-0.3, 0.3)
                m.running_var.uniform_(0.5, 2.0)
                m.num_batches_tracked.fill_(100)


SAFETENSORS_DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16",
                      torch.bfloat16: "BF16", torch.int64: "I64", torch.int32: "I32",
                      torch.int8: "I8", torch.uint8: "U8"}


def save_safetensors(tensors, path, metadata=None):
    """safetensors: 8-byte little-endian header length, JSON header, then raw little-endian data."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().cpu().contiguous()
        raw = t.view(torch.int16).numpy().astype("<i2").tobytes() if t.dtype == torch.bfloat16 \
            else t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": SAFETENSORS_DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # align the data to 8 bytes, as the reference writer does
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)


def load_safetensors(path):
    numpy_dtypes = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I8": "i1", "U8": "u1"}
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        raw = data[8 + n + b:8 + n + e]
        if info["dtype"] == "BF16":
            bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            array = bits.view(np.float32)
        else:
            array = np.frombuffer(raw, dtype=numpy_dtypes[info["dtype"]])
        tensors[name] = torch.from_numpy(array.copy().reshape(info["shape"]))
    return tensors


def state_dict_of(checkpoint):
    """The state_dict inside a checkpoint (bare, or under a common wrapper key), without 'module.'."""
    if isinstance(checkpoint, dict):
        for key in ("model_state_dict", "state_dict", "model"):
            if key in checkpoint and isinstance(checkpoint[key], dict):
                checkpoint = checkpoint[key]
                break
    return {k[len("module."):] if k.startswith("module.") else k: v
            for k, v in checkpoint.items() if torch.is_tensor(v)}


def load_model(weights):
    model = LCOVNet()
    state = load_safetensors(weights)
    # Either copy of the Up convolution may be present; the module accepts both names.
    for key in list(state):
        for a, b in ((".conv1.", ".conv."), (".conv.", ".conv1.")):
            if key.startswith("up") and a in key and key.replace(a, b) not in state:
                state[key.replace(a, b)] = state[key]
    model.load_state_dict(state)
    return model.eval()


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("random")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--seed", type=int, default=0)
    p = sub.add_parser("forward")
    p.add_argument("--weights", required=True)
    p.add_argument("--input", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--threads", type=int, default=0)
    p = sub.add_parser("export")
    p.add_argument("checkpoint")
    p.add_argument("-o", "--output", required=True)
    args = parser.parse_args(argv)

    if args.command == "random":
        model = LCOVNet()
        randomize(model, args.seed)
        save_safetensors(model.state_dict(), args.output, {"source": f"lcovnet_reference.py random seed {args.seed}"})
    elif args.command == "forward":
        if args.threads:
            torch.set_num_threads(args.threads)
        model = load_model(args.weights)
        x = torch.from_numpy(np.load(args.input).astype(np.float32))
        with torch.no_grad():
            y = model(x)
        np.save(args.output, y.numpy().astype(np.float32))
    elif args.command == "export":
        checkpoint = torch.load(args.checkpoint, map_location="cpu")
        save_safetensors(state_dict_of(checkpoint), args.output, {"source": args.checkpoint})


if __name__ == "__main__":
    main(sys.argv[1:])
