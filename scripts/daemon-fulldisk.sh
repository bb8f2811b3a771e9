#!/usr/bin/env bash
# Full-disk behaviour of `lcovnet serve` on a small tmpfs (needs root for mount):
#  A. free space under the watermark: intake pauses, the files stay in the watch folder, and
#     the series is processed once space returns;
#  B. the disk fills up while a series is being processed (watermark off): the write fails with
#     ENOSPC, the job is retried with backoff, nothing partial appears under the results, and the
#     series completes, with voxels equal to the sent volume, once space returns.
# Usage: scripts/daemon-fulldisk.sh   (debug build; prints what it checks, exits 1 on a failure)
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $(id -u) -eq 0 ]] || { echo "daemon-fulldisk.sh: needs root (mount -t tmpfs)" >&2; exit 2; }
built="$(swift build --show-bin-path)/lcovnet"
[[ -x "$built" ]] || swift build --product lcovnet >/dev/null
py=/usr/bin/python3
root=$(mktemp -d /tmp/lcovnet-fulldisk-XXXXXX)
bin="$root/lcovnet"; cp "$built" "$bin"
fs="$root/fs"; mkdir -p "$fs"
mount -t tmpfs -o size=40m tmpfs "$fs"
daemon=""
cleanup() { [[ -n "$daemon" ]] && kill -9 "$daemon" 2>/dev/null; umount "$fs" 2>/dev/null; rm -rf "$root"; }
trap cleanup EXIT
fail() { echo "FAILED: $*"; exit 1; }
free_kb() { df -k --output=avail "$fs" | tail -1 | tr -d ' '; }
wait_for() { local deadline=$((SECONDS + $1)); shift; until eval "$@"; do ((SECONDS > deadline)) && return 1; sleep 0.2; done; }

"$bin" phantom -o "$root/phantom" --matrix 64 --slice-spacing 5 --seed 3 >/dev/null
mkdir -p "$fs/incoming"
config() {  # $1 watermark in MB
  cat >"$fs/lcovnet.toml" <<TOML
[paths]
watch = "$fs/incoming"
work = "$fs/work"
output = "$fs/results"
quarantine = "$fs/quarantine"
archive = "$fs/archive"
[ingest]
quiet_seconds = 0.5
rescan_seconds = 1
disk_watermark_mb = $1
[retention]
after_success = "delete"
[job]
kind = "convert"
[limits]
max_attempts = 20
retry_seconds = 0.5
[metrics]
port = 0
TOML
}
start() { "$bin" serve --config "$fs/lcovnet.toml" >>"$root/stdout.jsonl" 2>>"$root/stderr.txt" & daemon=$!; }
stop() { kill -TERM "$daemon"; wait "$daemon" || fail "daemon exit status $?"; daemon=""; }

echo "A. watermark: free space below [ingest] disk_watermark_mb pauses intake"
config 30
start
"$bin" dicom-write "$root/phantom/image.nii.gz" -o "$fs/sent-a" >/dev/null
head -c $(( ($(free_kb) - 20 * 1024) * 1024 )) /dev/zero >"$fs/filler"      # leave 20 MB: below the 30 MB mark
mkdir -p "$fs/incoming/a" && mv "$fs/sent-a"/* "$fs/incoming/a/"
wait_for 20 'grep -q "intake paused" "$root/stdout.jsonl"' || fail "no 'intake paused' line"
sleep 2
[[ $(ls "$fs/incoming/a" | wc -l) -gt 0 && ! -e "$fs/results" || -z "$(ls -A "$fs/results" 2>/dev/null)" ]] || fail "intake went on under the watermark"
echo "   paused with $(( $(free_kb) / 1024 )) MB free; files stay in the watch folder: $(ls "$fs/incoming/a" | wc -l)"
rm "$fs/filler"
wait_for 60 '[[ -n "$(ls -A "$fs/results" 2>/dev/null)" ]]' || fail "no result after space returned"
grep -q "intake resumed" "$root/stdout.jsonl" || fail "no 'intake resumed' line"
echo "   resumed; result $(ls "$fs/results")"
stop

echo "B. ENOSPC while the result is written: retried, nothing partial, completed once space returns"
config 0
rm -rf "$fs/results"/* "$fs/incoming/a"
start
"$bin" dicom-write "$root/phantom/image.nii.gz" -o "$fs/sent-b" >/dev/null
uid_b=$("$py" -c 'import pydicom,sys,glob; print(pydicom.dcmread(sorted(glob.glob(sys.argv[1]+"/*"))[0]).SeriesInstanceUID)' "$fs/sent-b")
head -c $(( ($(free_kb) - 160) * 1024 )) /dev/zero >"$fs/filler" || true    # leave ~160 kB: too little for the NIfTI
mkdir -p "$fs/incoming/b" && mv "$fs/sent-b"/* "$fs/incoming/b/"
wait_for 30 'grep -q "transient error; job will be retried\|job step could not be recorded\|claim failed" "$root/stdout.jsonl"' \
  || fail "no transient failure was logged"
sleep 2
[[ ! -e "$fs/results/$uid_b" ]] || fail "a result appeared while the disk was full"
find "$fs/results" -name '.*' | grep -q . && fail "temporary file under the results"
echo "   disk full, no result yet; logged: $(grep '"level":"\(warning\|error\)"' "$root/stdout.jsonl" | grep -o '"message":"[^"]*"\|"error":"[^"]*"' | sort | uniq -c | tr -s ' ' | tr '\n' ';')"
rm "$fs/filler"
wait_for 60 '[[ -e "$fs/results/$uid_b/image.nii.gz" ]]' || fail "no result after space returned"
stop
"$py" - "$fs/results/$uid_b/image.nii.gz" "$root/phantom/image.nii.gz" <<'PY' || fail "result differs from the sent volume"
import sys, nibabel as nib, numpy as np
a, b = nib.load(sys.argv[1]), nib.load(sys.argv[2])
same = a.shape == b.shape and np.array_equal(np.asarray(a.dataobj).astype(np.float64) * (a.dataobj.slope or 1) + (a.dataobj.inter or 0),
                                             np.asarray(b.dataobj).astype(np.float64) * (b.dataobj.slope or 1) + (b.dataobj.inter or 0))
print(f"   completed: {a.shape}, voxels equal to the sent volume: {same}")
sys.exit(0 if same else 1)
PY
"$py" - "$root/stdout.jsonl" <<'PY' || fail "a log line is not JSON"
import json, sys
n = 0
for line in open(sys.argv[1]):
    json.loads(line); n += 1
print(f"   {n} log lines, all JSON")
PY
states=$("$bin" status --config "$fs/lcovnet.toml" --json | "$py" -c 'import json,sys; print(sorted({j["state"] for j in json.load(sys.stdin)["jobs"]}))')
[[ "$states" == "['done']" ]] || fail "ledger states $states"
echo "ok: ledger states $states"
