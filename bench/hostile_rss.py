#!/usr/bin/env python3
"""Peak RSS of `lcovnet segment` on each hostile input of issue 18's table, at a memory budget.

Builds every input in a scratch folder (pydicom, nibabel, numpy: the Debian packages), runs
`lcovnet segment INPUT -o OUT --model M --memory-budget B --threads 1` under /usr/bin/time, and prints a
Markdown table: the input, the outcome (exit status and the reason code or "segmented"), the peak
RSS, the scan's own voxels (int16) and whether the peak stayed within budget + scan + the
process's base (the peak of a 1-slice 64 × 64 scan, measured in the same run).

Usage: /usr/bin/python3 bench/hostile_rss.py [--binary .build/release/lcovnet] [--budget 256] [--keep DIR]
"""
import argparse
import os
import re
import shutil
import struct
import subprocess
import tempfile

import nibabel as nib
import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, DeflatedExplicitVRLittleEndian, generate_uid

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"


def ct_slice(path, rows, cols, k, spacing, series_uid, study_uid, frame_uid, position=None, pixels=None,
             declared_rows=None, declared_cols=None, syntax=ExplicitVRLittleEndian):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CT_IMAGE_STORAGE
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = syntax
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CT_IMAGE_STORAGE
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study_uid, series_uid, frame_uid
    ds.Modality = "CT"
    ds.PatientName, ds.PatientID = "Hostile^Input", "HOSTILE"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.InstanceNumber = k + 1
    ds.ImagePositionPatient = position if position is not None else [0.0, 0.0, float(k * spacing[2])]
    ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    ds.PixelSpacing = [spacing[1], spacing[0]]
    ds.SliceThickness = min(abs(spacing[2]), 1e6)
    ds.Rows, ds.Columns = declared_rows or rows, declared_cols or cols
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.RescaleIntercept, ds.RescaleSlope = 0, 1
    if pixels is None:
        yy, xx = np.mgrid[0:rows, 0:cols]
        body = ((yy - rows / 2) ** 2 + (xx - cols / 2) ** 2) < (min(rows, cols) * 0.4) ** 2
        pixels = np.where(body, 40, -1000).astype(np.int16)
    ds.PixelData = pixels.astype(np.int16).tobytes()
    ds.is_little_endian, ds.is_implicit_VR = True, False
    ds.save_as(path, write_like_original=False)


def series(folder, n=8, rows=64, cols=64, spacing=(0.8, 0.8, 2.5), **kw):
    os.makedirs(folder, exist_ok=True)
    uids = generate_uid(), generate_uid(), generate_uid()
    for k in range(n):
        ct_slice(os.path.join(folder, f"{k:04d}.dcm"), rows, cols, k, spacing, *uids, **kw)
    return folder


def nested_sequences(folder, depth=10_000):
    """One file whose first element is a sequence nested `depth` deep (undefined lengths)."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "nested.dcm")
    series(folder, n=1)
    ds = pydicom.dcmread(os.path.join(folder, "0000.dcm"))
    os.remove(os.path.join(folder, "0000.dcm"))
    opening = struct.pack("<HH2sHI", 0x0008, 0x1115, b"SQ", 0, 0xFFFFFFFF) + struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF)
    closing = struct.pack("<HHI", 0xFFFE, 0xE00D, 0) + struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
    body = opening * depth + closing * depth
    # Written by hand after the file meta: the preamble, "DICM", the meta group, then the nest.
    ds.save_as(path, write_like_original=False)
    raw = open(path, "rb").read()
    meta_end = 132 + 12 + struct.unpack("<I", raw[140:144])[0]
    open(path, "wb").write(raw[:meta_end] + body + raw[meta_end:])
    return folder


def nifti(path, shape, affine, dtype=np.int16, fill=0):
    img = nib.Nifti1Image(np.full(shape, fill, dtype=dtype), affine)
    nib.save(img, path)
    return path


def cylinder(path, shape, spacing):
    """Air with a 300 mm cylinder of water-like tissue along the slices: a body the crop keeps."""
    i, j = np.mgrid[0:shape[0], 0:shape[1]]
    disc = ((i - shape[0] / 2) * spacing[0]) ** 2 + ((j - shape[1] / 2) * spacing[1]) ** 2 < 150 ** 2
    plane = np.where(disc, 40, -1000).astype(np.int16)
    volume = np.repeat(plane[:, :, None], shape[2], axis=2)
    nib.save(nib.Nifti1Image(volume, np.diag(list(spacing) + [1.0])), path)
    return path


def nifti_with_sform(path, shape, value):
    """A .nii whose sform's 3 × 3 part is `value` times the identity (NaN, huge, zero), no qform."""
    hdr = nib.Nifti1Header()
    hdr.set_data_dtype(np.int16)
    hdr.set_data_shape(shape)
    for axis, name in enumerate(["srow_x", "srow_y", "srow_z"]):
        row = np.zeros(4, dtype=np.float32)
        row[axis] = value
        hdr[name] = row
    hdr["sform_code"], hdr["qform_code"] = 1, 0
    hdr["vox_offset"] = 352
    open(path, "wb").write(hdr.binaryblock + b"\0" * 4 + np.full(shape, 40, dtype=np.int16).tobytes(order="F"))
    return path


def nifti_header_only(path, dims):
    """A .nii whose header declares `dims` over no voxel data."""
    hdr = nib.Nifti1Header()
    hdr.set_data_dtype(np.int16)
    hdr.set_data_shape(dims)
    hdr.set_sform(np.eye(4), code=1)
    hdr["vox_offset"] = 352
    open(path, "wb").write(hdr.binaryblock + b"\0" * 4)
    return path


def bomb_nii(path, side=1024, compressor="gzip"):
    """A compressed .nii of side³ int16 zeros, written in chunks (never held in memory)."""
    hdr = nib.Nifti1Header()
    hdr.set_data_dtype(np.int16)
    hdr.set_data_shape((side, side, side))
    hdr.set_sform(np.eye(4), code=1)
    hdr["vox_offset"] = 352
    raw = path[: path.rfind(".")]
    with open(raw, "wb") as f:
        f.write(hdr.binaryblock + b"\0" * 4)
        zeros = b"\0" * (side * side * 2)
        for _ in range(side):
            f.write(zeros)
    tool = ["gzip", "-f", "-1", raw] if compressor == "gzip" else ["zstd", "-q", "-f", "--rm", "-1", raw, "-o", path]
    subprocess.run(tool, check=True)
    return path


def deflated_bomb(folder, size=2_000_000_000):
    """A Deflated Explicit VR Little Endian file: a plain CT slice, then a private OB element of
    `size` zero bytes after the pixel data, all deflated (a few MB on disk)."""
    import zlib
    path = os.path.join(series(folder, n=1), "0000.dcm")
    plain = open(path, "rb").read()
    meta_end = 132 + 12 + struct.unpack("<I", plain[140:144])[0]
    ds = pydicom.dcmread(path)
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    ds.save_as(path, write_like_original=False)
    deflated = open(path, "rb").read()
    meta = deflated[:132 + 12 + struct.unpack("<I", deflated[140:144])[0]]
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    out = [compressor.compress(plain[meta_end:] + struct.pack("<HH2sHI", 0x7FE1, 0x1010, b"OB", 0, size))]
    chunk = b"\0" * (1 << 24)
    for _ in range(size // len(chunk)):
        out.append(compressor.compress(chunk))
    out.append(compressor.compress(b"\0" * (size % len(chunk))))
    out.append(compressor.flush())
    open(path, "wb").write(meta + b"".join(out))
    return folder


def build(root):
    """(name, path, scan's own voxel MB) of every input."""
    inputs = []
    def add(name, path, voxels=0):
        inputs.append((name, path, voxels * 2 / 2**20))
    add("base: 1 slice of 64 × 64", series(f"{root}/base", n=1), 64 * 64)
    add("a plausible 8-slice series (8 × 2.5 mm)", series(f"{root}/good8", n=8), 8 * 64 * 64)
    add("a sequence nested 10 000 deep", nested_sequences(f"{root}/nested"))
    add("Rows = Columns = 65535 over 64 × 64 pixel data (45 slices)",
        series(f"{root}/huge", n=45, declared_rows=65535, declared_cols=65535))
    add("ImagePositionPatient 1e300", series(f"{root}/far-position", n=4, position=[0.0, 0.0, 1e300]))
    add("1 × 1 images (8 slices)", series(f"{root}/one-pixel", n=8, rows=1, cols=1, pixels=np.array([[40]])), 8)
    for label, spacing in [("1e300", 1e300), ("1e-300", 1e-300), ("1e6", 1e6), ("40 mm", 40.0)]:
        add(f"PixelSpacing {label}", series(f"{root}/spacing-{label}", n=8, spacing=(spacing, spacing, 2.5)), 8 * 64 * 64)
    add("slices 1e6 mm apart", series(f"{root}/slices-apart", n=5, spacing=(0.8, 0.8, 1e6)), 5 * 64 * 64)
    for label, value in [("NaN", np.nan), ("1e30", 1e30), ("all zero", 0.0)]:
        add(f"NIfTI sform {label}", nifti_with_sform(f"{root}/sform-{label.replace(' ', '-')}.nii", (32, 32, 8), value), 32 * 32 * 8)
    add("NIfTI dims 32767³ (header only)", nifti_header_only(f"{root}/dims.nii", (32767, 32767, 32767)))
    add(".nii.gz of 1024³ int16 zeros", bomb_nii(f"{root}/bomb.nii.gz", compressor="gzip"))
    add(".nii.zst of 1024³ int16 zeros", bomb_nii(f"{root}/bomb.nii.zst", compressor="zstd"))
    add("deflated DICOM inflating to 2 GB", deflated_bomb(f"{root}/deflated"))
    add("a plausible 512 × 512 × 300 .nii.gz (0.8 × 0.8 × 1 mm, a water cylinder)",
        cylinder(f"{root}/cylinder.nii.gz", (512, 512, 300), (0.8, 0.8, 1.0)), 512 * 512 * 300)
    add("a plausible 512 × 512 × 1000 .nii.gz (0.8 × 0.8 × 1 mm, air)",
        nifti(f"{root}/long.nii.gz", (512, 512, 1000), np.diag([0.8, 0.8, 1.0, 1.0]), fill=-1000), 512 * 512 * 1000)
    return inputs


def run(binary, model, path, out, budget):
    cmd = ["/usr/bin/time", "-f", "PEAK %M", binary, "segment", path, "-o", out, "--model", model,
           "--memory-budget", str(budget), "--threads", "1"]
    p = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=900)
    peak = int(re.findall(r"PEAK (\d+)", p.stderr)[-1]) / 1024
    lines = [l for l in (p.stdout + p.stderr).splitlines() if l.strip() and not l.startswith(("PEAK", "Command exited"))]
    status = p.returncode
    code = re.findall(r"\[([a-z0-9-]+)\]", " ".join(lines))
    outcome = "segmented" if status == 0 else (code[-1] if code else (lines[-1][:80] if lines else "?"))
    return status, outcome, peak, (lines[-1] if lines else "")


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--binary", default=".build/release/lcovnet")
    a.add_argument("--model", default="Models/default")
    a.add_argument("--budget", type=int, default=256)
    a.add_argument("--keep")
    args = a.parse_args()
    root = args.keep or tempfile.mkdtemp(prefix="hostile-")
    os.makedirs(root, exist_ok=True)
    try:
        inputs = build(root)
        rows, base = [], None
        for name, path, scan_mb in inputs:
            status, outcome, peak, last = run(args.binary, args.model, path, f"{root}/out-{len(rows)}", args.budget)
            base = base if base is not None else peak
            bound = args.budget + scan_mb + base
            rows.append((name, status, outcome, peak, scan_mb, peak <= bound))
            print(f"# {name}: exit {status}, {outcome}, peak {peak:.0f} MiB | {last[:160]}", flush=True)
        print(f"\n`lcovnet segment INPUT --model {args.model} --memory-budget {args.budget} --threads 1`; base (1-slice scan) {base:.0f} MiB\n")
        print("| input | exit | outcome | peak RSS MiB | scan's voxels MiB | ≤ budget + scan + base |")
        print("|---|---|---|---|---|---|")
        for name, status, outcome, peak, scan_mb, ok in rows:
            print(f"| {name} | {status} | {outcome} | {peak:.0f} | {scan_mb:.0f} | {'yes' if ok else '**no**'} |")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
