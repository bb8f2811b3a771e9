#!/bin/bash
# Turns a training run into the shipped default model: the run's checkpoint as an fp32 model,
# int8 calibration on prepared phantoms the run never trained on, then the held-out evaluation
# of int8 and fp32 through the segment path, and the result copied into Models/default.
#
#   scripts/package-default-model.sh [RUN]      RUN defaults to runs/student
#
# Knobs: CALIBRATION (seeds, default 921-926, which the shipped model never trained on), EVALUATE
# (seeds, default 1001-1010), WINDOW (inference window for the manifest, default the training
# window), THREADS (default 1), ANATOMIES (a folder of WORD label maps: calibrate on CT
# synthesized on them instead of phantoms, for a model trained on synthesized CT),
# STATISTICS (seeds FIRST-LAST: measure BatchNorm's statistics again over windows of those
# volumes, `model export --statistics-seeds`, instead of the checkpoint's training pool; e.g.
# 921-944), OUT (default Models/default), LOGS (training logs to concatenate into training-log.jsonl, in
# order, for a run fine-tuned from earlier runs; default RUN/log.jsonl).
set -euo pipefail
cd "$(dirname "$0")/.."

RUN=${1:-runs/student}
CALIBRATION=${CALIBRATION:-921-926}
EVALUATE=${EVALUATE:-1001-1010}
THREADS=${THREADS:-1}
OUT=${OUT:-Models/default}
WORK=${WORK:-$RUN/package}

swift build -c release --product lcovnet
BIN=.build/release/lcovnet
rm -rf "$WORK" && mkdir -p "$WORK"

"$BIN" model export "$RUN" -o "$WORK/fp32" ${WINDOW:+--window "$WINDOW"} ${STATISTICS:+--statistics-seeds "$STATISTICS"}
# Prepared exactly as the model's manifest says; --steps 0 prepares and trains nothing.
"$BIN" train -o "$WORK/calibration" --write-prepared "$CALIBRATION" --phantoms 1-1 --steps 0 --batch 1 \
    --threads "$THREADS" ${ANATOMIES:+--anatomies "$ANATOMIES"} > "$WORK/calibration.log"
"$BIN" model quantize "$WORK/fp32" --calibrate "$WORK"/calibration/prepared/*.npy --windows-per-volume 12 -o "$WORK/int8" --threads "$THREADS" \
    | tee "$WORK/quantize.log"
"$BIN" evaluate --model "$WORK/int8" --seeds "$EVALUATE" --precision int8,fp32 --threads "$THREADS" \
    --report "$WORK/int8/evaluation.json" | tee "$WORK/evaluate.log"

mkdir -p "$OUT"
cp "$WORK/int8/manifest.json" "$WORK/int8/weights.safetensors" "$WORK/int8/evaluation.json" "$OUT/"
cat ${LOGS:-"$RUN/log.jsonl"} > "$OUT/training-log.jsonl"
cp "$WORK/evaluate.log" "$OUT/evaluation.txt"
echo "packaged $RUN into $OUT (int8, fp32 weights inside; REPORT.md is written by hand from evaluation.txt)"
