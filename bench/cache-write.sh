#!/usr/bin/env bash
# Benchmark (not a test): the daemon's segment job on one series, child by child as `lcovnet serve`
# runs them (worker decode → segment → cache), with each child's wall time and peak RSS, for one or
# two lcovnet binaries (before/after a change). The cache child is the distillation cache's writer.
# Usage: bench/cache-write.sh BIN [BIN2] [matrix] [slice-mm]
#   (the scan: `lcovnet phantom --format dicom --matrix 512 --slice-spacing 1`, 512² × ~330 slices)
set -euo pipefail
cd "$(dirname "$0")/.."
bins=("$1"); [[ $# -ge 2 && -x "$2" ]] && bins+=("$2")
matrix=${3:-512}
slice=${4:-1}
work=$(mktemp -d /tmp/lcovnet-bench-cache.XXXXXX)
trap 'rm -rf "$work"' EXIT
"${bins[0]}" phantom -o "$work/phantom" --format dicom --matrix "$matrix" --slice-spacing "$slice" --seed 3 >/dev/null
series="$work/phantom/dicom"
model=Models/default
limits=(--address-space-mb 65536 --cpu-seconds 3600)
job=(--model "$model" --threads 2 --memory-budget-mib 1024)

echo "| binary | child | wall s | peak RSS MiB |"
echo "|---|---|---|---|"
for bin in "${bins[@]}"; do
    name=$(basename "$(dirname "$bin")")/$(basename "$bin")
    decoded="$work/decoded-$RANDOM"
    mkdir -p "$decoded"
    keep=()
    "$bin" worker segment --help 2>/dev/null | grep -q -- '--keeps-prepared' && keep=(--keeps-prepared true)
    timed() { /usr/bin/time -f "%e %M" -o "$work/time" "$@" >/dev/null; read -r s k < "$work/time"; echo "$s $((k / 1024))"; }
    read -r s m < <(timed "$bin" worker decode "${limits[@]}" --input "$series" --output "$decoded")
    echo "| $name | decode | $s | $m |"
    read -r s m < <(timed "$bin" worker segment "${limits[@]}" --decoded "$decoded" "${job[@]}" "${keep[@]}")
    echo "| $name | segment (prepare, infer) | $s | $m |"
    read -r s m < <(timed "$bin" worker cache "${limits[@]}" --decoded "$decoded" --cache-path "$work/cache-$RANDOM" \
        --cache-mb 2048 --window 32,96,96 --patches 8 --model "$model")
    echo "| $name | cache (patches into the distillation cache) | $s | $m |"
    rm -rf "$decoded"
done
