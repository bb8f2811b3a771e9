#!/usr/bin/env bash
# Benchmarks LCOV-Net per window: our int8 and fp32 engines and the peers in bench/ (PyTorch fp32,
# ONNX Runtime int8 QDQ per-channel and fp32), 1 and 2 threads, and appends the Markdown section
# to docs/BENCHMARKS.md. The weights are random (speed does not depend on their values); the int8
# model is calibrated on synthetic windows.
# Usage: scripts/bench.sh [window, default 64x160x160] [whole volume D×H×W, e.g. 160x256x256]
set -euo pipefail
cd "$(dirname "$0")/.."
window=${1:-64x160x160}
volume=${2:+--volume $2}
work=.cache/bench
mkdir -p "$work"

# Peers' Python: Debian's torch plus pip's ONNX Runtime (numpy < 2 for torch 1.13).
if [[ ! -x .cache/bench-venv/bin/python ]]; then
  /usr/bin/python3 -m venv --system-site-packages .cache/bench-venv
  .cache/bench-venv/bin/pip install -q "numpy<2" "onnxruntime<1.20" "onnx<1.17" \
    || echo "bench.sh: onnxruntime could not be installed; its peer will be skipped" >&2
fi

swift build -c release --product lcovnet
lcovnet=$(swift build -c release --show-bin-path)/lcovnet

if [[ ! -f $work/fp32/manifest.json ]]; then
  /usr/bin/python3 tools/lcovnet_reference.py random --seed 1 -o "$work/random.safetensors"
  "$lcovnet" model import "$work/random.safetensors" -o "$work/fp32"
fi
if [[ ! -f $work/int8/manifest.json ]]; then
  /usr/bin/python3 -c "
import sys; sys.path.insert(0, 'bench'); import numpy as np, peer_common as c
for s in range(2): np.save(f'$work/calibration-{s}.npy', c.window([64, 160, 160], seed=s))"
  "$lcovnet" model quantize "$work/fp32" --calibrate "$work"/calibration-*.npy -o "$work/int8"
fi

[[ -f docs/BENCHMARKS.md ]] || printf '# Benchmarks\n\nEach section: machine, date, command, results. Newest last.\n' > docs/BENCHMARKS.md
"$lcovnet" bench --model "$work/fp32" --int8-model "$work/int8" --window "$window" --threads 1,2 --repeat 3 $volume --append docs/BENCHMARKS.md
