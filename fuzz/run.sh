#!/usr/bin/env bash
# Builds the DICOM reader fuzzer (libFuzzer + AddressSanitizer, clang from the Swift toolchain)
# and runs it for SECONDS (default 1800) on one core, seeded with the DICOM files the tests write.
# Corpus and crashes stay in fuzz/work (ignored by git); a crash input is kept as
# fuzz/crashes/<name> for a regression test. Usage: fuzz/run.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-1800}
work=fuzz/work
mkdir -p "$work/corpus" "$work/artifacts" fuzz/crashes
libs=(-ldcmtls -ldcmnet -ldcmrt -ldcmseg -ldcmfg -ldcmiod -ldcmjpls -ldcmtkcharls -ldcmjpeg -lijg8 -lijg12 -lijg16 -ldcmimage -ldcmimgle -ldcmdata -loflog -lofstd -lopenjp2 -lssl -lcrypto -lz)
clang++ -std=c++17 -O1 -g -fsanitize=fuzzer,address -I Sources/Shims/CDicom/include -I /usr/include/openjpeg-2.5 \
    Sources/Shims/CDicom/*.cpp fuzz/dicom_reader_fuzzer.cpp "${libs[@]}" -o "$work/dicom_reader_fuzzer"
# Seeds: a phantom series in several transfer syntaxes, written by lcovnet itself.
if [[ -z "$(ls -A "$work/corpus")" ]]; then
    swift build --product lcovnet >/dev/null
    for syntax in explicit-little implicit-little explicit-big deflated rle jpeg-lossless jpeg-ls jpeg2000; do
        .build/debug/lcovnet phantom -o "$work/seed-$syntax" --format dicom --matrix 32 --transfer-syntax "$syntax" >/dev/null
        find "$work/seed-$syntax/dicom" -type f | sort | sed -n 1,2p | while read -r f; do cp "$f" "$work/corpus/$syntax-$(basename "$f")"; done
    done
fi
# A stack overflow in DCMTK's recursion over nested sequences is contained by the daemon's
# worker process (docs/DAEMON.md), not fixable here: -max_len keeps inputs below the depth
# that reaches it in ASan's larger frames.
# DCMTK allocates a value's declared length when that exceeds the file (address space only: the
# pages are never touched, and the daemon's worker fails it cleanly under RLIMIT_AS as `corrupt`):
# a malloc limit of 8 GiB lets the run go on past it; real memory stays bounded by -rss_limit_mb.
ASAN_OPTIONS=allocator_may_return_null=1 \
"$work/dicom_reader_fuzzer" "$work/corpus" -max_total_time="$seconds" -timeout=10 -max_len=65536 -rss_limit_mb=2048 -malloc_limit_mb=8192 \
    -artifact_prefix="$work/artifacts/" -print_final_stats=1 2>&1 | tee "$work/last-run.log" | tail -20
cp "$work"/artifacts/* fuzz/crashes/ 2>/dev/null || true
