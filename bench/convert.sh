#!/usr/bin/env bash
# Benchmark (not a test): `lcovnet convert` (release build) vs dcm2niix wall time on a
# 512×512×300 CT series, uncompressed (explicit little endian) and JPEG lossless.
# Writes a markdown section to stdout; append it to docs/BENCHMARKS.md.
# Usage: bench/convert.sh [runs]   (needs dcm2niix and Debian's python3 with numpy and nibabel)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
work=$(mktemp -d /tmp/lcovnet-bench-convert.XXXXXX)
trap 'rm -rf "$work"' EXIT
swift build -c release --product lcovnet >/dev/null
bin=$(swift build -c release --show-bin-path)/lcovnet

# A CT-like volume: an elliptic body of soft tissue with organs, bone and noise, in air.
/usr/bin/python3 - "$work/source.nii" <<'PY'
import sys, numpy as np, nibabel as nib
rng = np.random.default_rng(1)
x, y = np.meshgrid(np.linspace(-1, 1, 512), np.linspace(-1, 1, 512), indexing="ij")
v = np.full((512, 512, 300), -1000, np.int16)
for k in range(300):
    body = (x / 0.85) ** 2 + (y / 0.6) ** 2 < 1
    organ = ((x - 0.3) / 0.25) ** 2 + ((y + 0.1) / 0.2) ** 2 < 1
    bone = (x / 0.08) ** 2 + ((y - 0.45) / 0.08) ** 2 < 1
    s = np.where(body, 40, -1000) + np.where(organ, 20, 0) + np.where(bone, 700, 0)
    v[:, :, k] = (s + np.where(body, rng.normal(0, 12, s.shape), 0)).astype(np.int16)
aff = np.diag([-0.75, 0.75, 1.0, 1.0]); aff[:3, 3] = [190, -190, -150]
img = nib.Nifti1Image(v, aff); img.set_qform(aff, 1); img.set_sform(aff, 1); nib.save(img, sys.argv[1])
PY

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
# One run: "wall cpu" in seconds (cpu = user + system, which other load on the machine does not inflate).
measure() { /usr/bin/time -f "%e %U %S" "$@" 2>&1 >/dev/null | tail -1 | awk '{printf "%.3f %.3f\n", $1, $2 + $3}'; }

echo "### lcovnet convert vs dcm2niix, 512×512×300 CT series"
echo
echo "- date: $(date -u +%Y-%m-%dT%H:%MZ); machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem/ {print $2}') GiB, load average $(cut -d' ' -f1 /proc/loadavg) at the start"
echo "- command: \`bench/convert.sh $runs\` (median of $runs interleaved runs each, page cache warm, .nii output for both)"
echo "- lcovnet: \`lcovnet convert DIR -o out.nii\` (release build); dcm2niix $(dcm2niix --version 2>&1 | grep -o 'v1[0-9.]*' | head -1): \`dcm2niix -z n -f out -o OUT DIR\`"
echo
echo "| transfer syntax | files | lcovnet wall (s) | dcm2niix wall (s) | lcovnet CPU (s) | dcm2niix CPU (s) | voxels and affine equal |"
echo "|---|---|---|---|---|---|---|"
for syntax in explicit-little jpeg-lossless; do
  dir="$work/$syntax"
  "$bin" dicom-write "$work/source.nii" -o "$dir" --syntax "$syntax" >/dev/null
  : > "$work/ours.txt"; : > "$work/theirs.txt"
  for _ in $(seq "$runs"); do
    rm -f "$work/ours.nii"   # both tools write a new file (dcm2niix's folder is emptied too)
    measure "$bin" convert "$dir" -o "$work/ours.nii" >> "$work/ours.txt"
    rm -rf "$work/ref"; mkdir "$work/ref"
    measure dcm2niix -z n -f out -o "$work/ref" "$dir" >> "$work/theirs.txt"
  done
  equal=$(/usr/bin/python3 -c "
import sys, nibabel as nib, numpy as np
a, b = nib.load(sys.argv[1]), nib.load(sys.argv[2])
print('yes' if np.array_equal(a.get_fdata(), b.get_fdata()) and np.abs(a.affine - b.affine).max() < 1e-3 else 'NO')
" "$work/ours.nii" "$work/ref/out.nii")
  echo "| $syntax | $(ls "$dir" | wc -l) | $(cut -d' ' -f1 "$work/ours.txt" | median) | $(cut -d' ' -f1 "$work/theirs.txt" | median) | $(cut -d' ' -f2 "$work/ours.txt" | median) | $(cut -d' ' -f2 "$work/theirs.txt" | median) | $equal |"
done
