#!/bin/bash
# Trains the shipped default model (Models/default) on synthetic phantoms, from scratch, with one
# command. Deterministic for a given machine: phantoms, initialisation and sampling are seeded.
#
#   scripts/train-default-model.sh             supervised student (what Models/default holds now)
#   DISTILL=1 scripts/train-default-model.sh   also a wider teacher, then the student distilled from it
#
# Threads: oneDNN runs on one OpenMP thread by default (THREADS=1): on a 2-core machine shared
# with other work, two OpenMP threads stall at every barrier (measured 3-7 s instead of 0.4 s
# per 32³ step). Use THREADS=$(nproc) on a dedicated machine.
set -euo pipefail
cd "$(dirname "$0")/.."

STEPS=${STEPS:-1000}
WINDOW=${WINDOW:-32x96x96}
THREADS=${THREADS:-1}
RUNS=${RUNS:-runs}
COMMON=(--window "$WINDOW" --batch 1 --phantoms 1-8 --threads "$THREADS" --checkpoint-every 50 --evaluate 1001-1010)

swift build -c release --product lcovnet
BIN=.build/release/lcovnet

if [[ "${DISTILL:-0}" == 1 ]]; then
    "$BIN" train -o "$RUNS/teacher" --steps "$STEPS" --widths 48,96,192,384,384 "${COMMON[@]}"
    "$BIN" distill -o "$RUNS/distilled" --steps "$STEPS" --teacher "$RUNS/teacher/checkpoint.safetensors" \
        --export-model "$RUNS/distilled-model" "${COMMON[@]}"
fi

time "$BIN" train -o "$RUNS/student" --steps "$STEPS" --export-model Models/default "${COMMON[@]}"
cp "$RUNS/student/log.jsonl" Models/default/training-log.jsonl
cp "$RUNS/student/evaluation.json" Models/default/evaluation.json
