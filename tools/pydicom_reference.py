#!/usr/bin/env python3
"""Reference values for Tests/IngestTests/PydicomFilesTests: what pydicom (with the pylibjpeg
decoders) reads in each DICOM file. Usage: pydicom_reference.py OUT_DIR FILE...

For file number n it writes OUT_DIR/n.f64 (little-endian float64, frames × rows × columns, the
decoded pixels × RescaleSlope + RescaleIntercept, per frame for enhanced objects) and prints one
JSON list, one entry per file: {"file", "decoded", "frames", "rows", "columns", "error"}.
"""
import json
import sys

import numpy as np
import pydicom


def frame_rescale(ds, frames):
    """Slope and intercept per frame: per-frame functional groups, shared groups, then top level."""
    def from_item(item):
        seq = getattr(item, "PixelValueTransformationSequence", None)
        if seq and "RescaleSlope" in seq[0] and "RescaleIntercept" in seq[0]:
            return float(seq[0].RescaleSlope), float(seq[0].RescaleIntercept)
        return None
    base = (float(ds.RescaleSlope), float(ds.RescaleIntercept)) if "RescaleSlope" in ds and "RescaleIntercept" in ds else (1.0, 0.0)
    if base[0] == 0:
        base = (1.0, 0.0)
    shared = getattr(ds, "SharedFunctionalGroupsSequence", None)
    if shared:
        base = from_item(shared[0]) or base
    per_frame = getattr(ds, "PerFrameFunctionalGroupsSequence", None)
    result = []
    for f in range(frames):
        value = from_item(per_frame[f]) if per_frame and f < len(per_frame) else None
        result.append(value if value and value[0] != 0 else base)
    return result


def main():
    out, files = sys.argv[1], sys.argv[2:]
    results = []
    for n, path in enumerate(files):
        entry = {"file": path, "decoded": False, "frames": 0, "rows": 0, "columns": 0, "error": ""}
        try:
            ds = pydicom.dcmread(path, force=True)
            if "TransferSyntaxUID" not in ds.file_meta:
                # A raw dataset: name the encoding pydicom detected while reading it.
                implicit, little = ds.original_encoding
                uid = pydicom.uid
                ds.file_meta.TransferSyntaxUID = (uid.ImplicitVRLittleEndian if implicit else
                                                  uid.ExplicitVRLittleEndian if little else uid.ExplicitVRBigEndian)
            pixels = ds.pixel_array
            frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
            samples = int(getattr(ds, "SamplesPerPixel", 1) or 1)
            if samples != 1:
                raise ValueError(f"{samples} samples per pixel")
            pixels = pixels.reshape(frames, int(ds.Rows), int(ds.Columns)).astype(np.float64)
            for f, (slope, intercept) in enumerate(frame_rescale(ds, frames)):
                pixels[f] = pixels[f] * slope + intercept
            pixels.astype("<f8").tofile(f"{out}/{n}.f64")
            entry.update(decoded=True, frames=frames, rows=int(ds.Rows), columns=int(ds.Columns))
        except Exception as error:  # the reference cannot decode it: recorded, not fatal
            entry["error"] = f"{type(error).__name__}: {error}"[:200]
        results.append(entry)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
