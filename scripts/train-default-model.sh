#!/bin/bash
# The recipe of the shipped models (Models/default, the int8 student, and Models/teacher), one
# command: CT synthesized on WORD's real label maps (docs/SYNTHESIS.md) with phantoms mixed in,
# a supervised LCOV-Net student, a wider teacher widened from it (Net2WiderNet) and trained on,
# then two fine-tunings of the student from the same start, supervised alone and distilled from
# the teacher (CAKD + MSKD, docs/LCOVNET.md): the ablation. Every stage checkpoints; rerunning the
# script resumes the stage it was in and skips finished ones.
#
#   scripts/train-default-model.sh               all stages, then packages the distilled student
#   PACKAGE=supervised scripts/train-default-model.sh   ... or the supervised one
#   STAGES="student teacher" scripts/train-default-model.sh   only those stages
#   TEACHER_FROM=Models/default/weights.safetensors STAGES="teacher package" ...   the shipped
#       teacher's way: widened from the shipped student instead of this script's student run
#
# Data: WORD's label maps (../shared/data/word-labels, GPL-3.0, research use), unpacked into
# $ANATOMIES (default runs/word). Seeds below 1000 synthesize on 26 training maps; 5 maps are held
# out (seeds from 1000 on), and the trainer refuses those.
#
# Time on one core of a 2-core AVX2 server (docs/BENCHMARKS.md): student 2.5 s a step, teacher
# about 6, distillation about 3.5; the default step counts take about 4 + 5 + 1 + 1.5 hours.
# Threads: THREADS=1 leaves the other core free (two OpenMP threads on a shared 2-core machine
# stall at every barrier); use THREADS=$(nproc) on a dedicated machine.
#
# History: the shipped student came through a chain of runs while the synthesizer grew (300 steps
# from scratch, then 1100, 700 with intensity augmentation and 3400, each a warm restart at 5e-4),
# not through this script's single student run; see Models/default/REPORT.md.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-runs}
ANATOMIES=${ANATOMIES:-$RUNS/word}
THREADS=${THREADS:-1}
STUDENT_STEPS=${STUDENT_STEPS:-5500}
TEACHER_STEPS=${TEACHER_STEPS:-2000}
TEACHER_FROM=${TEACHER_FROM:-$RUNS/student/checkpoint.safetensors}
FINETUNE_STEPS=${FINETUNE_STEPS:-1500}
STAGES=${STAGES:-student teacher supervised distilled package}
PACKAGE=${PACKAGE:-distilled}
WORD_ZIP=${WORD_ZIP:-../shared/data/word-labels/WORD_V0.1.0_labelsTs.zip}

if [[ ! -d "$ANATOMIES/labelsTs" ]]; then
    mkdir -p "$ANATOMIES"
    unzip -q -o "$WORD_ZIP" -d "$ANATOMIES"
fi
swift build -c release --product lcovnet
BIN=.build/release/lcovnet
wants() { [[ " $STAGES " == *" $1 "* ]]; }

# What every run shares: synthesized CT with every fifth seed a phantom, a pool of 12 that
# replaces one scan every 15 steps (new anatomy, deformation and protocol), intensity
# augmentation, BatchNorm statistics averaged over 32 windows and a 0.998 weight average in
# each checkpoint.
COMMON=(--anatomies "$ANATOMIES" --phantom-every 5 --phantoms 1-12 --refresh-phantoms 13-999 --refresh-every 15
        --window 32x96x96 --batch 1 --threads "$THREADS" --checkpoint-every 100 --augment-intensities
        --statistics-windows 32 --average-weights 0.998)

wants student && "$BIN" train -o "$RUNS/student" --steps "$STUDENT_STEPS" --learning-rate 5e-4 "${COMMON[@]}"
# The teacher starts as the student, widened (extra channels copy existing ones), so its hours go
# to what the extra width can add.
wants teacher && "$BIN" train -o "$RUNS/teacher" --widths 48,96,192,384,384 --steps "$TEACHER_STEPS" --learning-rate 3e-4 \
    --seed 23 --initial-weights "$TEACHER_FROM" "${COMMON[@]}"
# The ablation: the same start, schedule and data, with and without the teacher.
wants supervised && "$BIN" train -o "$RUNS/supervised" --steps "$FINETUNE_STEPS" --learning-rate 2e-4 \
    --initial-weights "$RUNS/student/checkpoint.safetensors" "${COMMON[@]}"
wants distilled && "$BIN" distill -o "$RUNS/distilled" --teacher "$RUNS/teacher/checkpoint.safetensors" \
    --steps "$FINETUNE_STEPS" --learning-rate 2e-4 --initial-weights "$RUNS/student/checkpoint.safetensors" "${COMMON[@]}"

if wants package; then
    # The teacher as the fp16 state dict the daemon's retraining rounds distil from, with BatchNorm
    # statistics measured again over synthesized seeds no run trains on (as it was scored).
    if [[ -f "$RUNS/teacher/checkpoint.safetensors" ]]; then
        mkdir -p Models/teacher
        "$BIN" model export "$RUNS/teacher" -o "$RUNS/teacher-model" --statistics-seeds 921-944 \
            --half-state-dict Models/teacher/teacher.safetensors
    fi
    # int8 calibration on synthesized CT the runs never trained on, held-out phantoms, into Models/default.
    if [[ -f "$RUNS/$PACKAGE/checkpoint.safetensors" ]]; then
        ANATOMIES="$ANATOMIES" THREADS="$THREADS" scripts/package-default-model.sh "$RUNS/$PACKAGE"
    fi
    # Real validation (TotalSegmentator's example CT; never trained on) of every network trained,
    # each exported with the same broad statistics, in fp32 at a budget that gives every one its
    # full window (docs: Models/default/REPORT.md).
    scripts/fetch-real-validation.sh
    V=${LCOVNET_VALIDATION_DIR:-$HOME/.cache/lcovnet/real-validation}
    for run in student teacher supervised distilled; do
        [[ -f "$RUNS/$run/checkpoint.safetensors" ]] || continue
        "$BIN" model export "$RUNS/$run" -o "$RUNS/$run-model" --statistics-seeds 921-944 > /dev/null
        "$BIN" segment "$V/example_ct.nii.gz" -o "$RUNS/$run-real" --model "$RUNS/$run-model" --precision fp32 \
            --memory-budget 2048 --threads "$THREADS" > /dev/null
        echo "$run: $(.cache/realval-venv/bin/python tools/score_real.py "$RUNS/$run-real/example_ct/segmentation.nii.gz" \
            "$V/example_word_labels.nii.gz" --json "$RUNS/$run-real/score.json" | grep mean)"
    done
fi
