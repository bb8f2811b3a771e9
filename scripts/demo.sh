#!/usr/bin/env bash
# The main job on the embedded default: builds lcovnet, generates a synthetic scan as DICOM
# files and runs it through the pipeline into ./out/demo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release --product lcovnet
exec "$(swift build -c release --show-bin-path)/lcovnet" demo -o out/demo "$@"
