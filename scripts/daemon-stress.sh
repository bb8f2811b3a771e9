#!/usr/bin/env bash
# Crash test of `lcovnet serve`: in each trial, series arrive in the watch folder while the
# daemon is killed with SIGKILL at random instants and restarted; one file of each series
# arrives late (after the next kill), so gathering and the result swap are killed too. After the
# last restart every series must have exactly one complete result folder holding every slice,
# nothing temporary under the results, every input file archived exactly once (none lost, none
# left behind), every ledger row done, every stdout line JSON and no phantom name or ID in the logs.
#
# Usage: scripts/daemon-stress.sh [TRIALS (default 20)] [SERIES per trial (default 4)] [KILLS per trial (default 4)]
# Uses the debug build (swift build --product lcovnet). Prints one line per trial and a summary;
# exits 1 if any trial failed. The figures in docs/DAEMON.md come from this script.
set -euo pipefail
cd "$(dirname "$0")/.."
trials=${1:-20} series_per_trial=${2:-4} kills=${3:-4}
built="$(swift build --show-bin-path)/lcovnet"
[[ -x "$built" ]] || swift build --product lcovnet >/dev/null
py=/usr/bin/python3
root=$(mktemp -d /tmp/lcovnet-stress-XXXXXX)
# A private copy: a rebuild during the run must not swap the binary under the trials.
bin="$root/lcovnet"
cp "$built" "$bin"
daemon=""
cleanup() { [[ -n "$daemon" ]] && kill -9 "$daemon" 2>/dev/null; rm -rf "$root"; }
trap cleanup EXIT

# One small phantom, written as a new DICOM series (new SeriesInstanceUID) for each send.
"$bin" phantom -o "$root/phantom" --matrix 48 --slice-spacing 6 --seed 7 >/dev/null

start_daemon() {  # $1 trial dir, $2 run number
  "$bin" serve --config "$1/lcovnet.toml" >"$1/stdout-$2.jsonl" 2>>"$1/stderr.txt" &
  daemon=$!
}

failures=0 total_kills=0 total_series=0
started=$(date +%s)
for trial in $(seq 1 "$trials"); do
  t="$root/t$trial"
  mkdir -p "$t/incoming" "$t/sent"
  cat >"$t/lcovnet.toml" <<TOML
[paths]
watch = "$t/incoming"
work = "$t/work"
output = "$t/results"
quarantine = "$t/quarantine"
archive = "$t/archive"
[ingest]
quiet_seconds = 0.5
rescan_seconds = 2
disk_watermark_mb = 1
[job]
kind = "convert"
[limits]
max_attempts = 100
retry_seconds = 0.5
[metrics]
port = 0
TOML
  sent_files=0
  for s in $(seq 1 "$series_per_trial"); do
    "$bin" dicom-write "$root/phantom/image.nii.gz" -o "$t/sent/s$s" --series-number "$s" >/dev/null
    sent_files=$((sent_files + $(ls "$t/sent/s$s" | wc -l)))
  done
  run=1
  start_daemon "$t" $run
  # Series arrive into study folders, each but one file of it; the held-back file follows with
  # the next series (or after the loop). Kills fall at random instants meanwhile.
  s=1 k=0
  while ((s <= series_per_trial || k < kills)); do
    if ((s <= series_per_trial)); then
      mkdir -p "$t/incoming/study-$s" "$t/late/s$s"
      files=("$t/sent/s$s"/*)
      mv "${files[$((RANDOM % ${#files[@]}))]}" "$t/late/s$s/"
      for f in "$t/sent/s$s"/*; do mv "$f" "$t/incoming/study-$s/"; done
      if ((s > 1)); then mv "$t/late/s$((s - 1))"/* "$t/incoming/study-$((s - 1))/"; fi
      s=$((s + 1))
    fi
    if ((k < kills)); then
      sleep "0.$((RANDOM % 10))$((RANDOM % 10))"
      kill -9 "$daemon" 2>/dev/null || true
      wait "$daemon" 2>/dev/null || true
      k=$((k + 1)) run=$((run + 1))
      start_daemon "$t" $run
    fi
  done
  # The last late file, then one more kill at a random instant.
  sleep "1.$((RANDOM % 10))"
  mv "$t/late/s$series_per_trial"/* "$t/incoming/study-$series_per_trial/"
  sleep "0.$((RANDOM % 10))$((RANDOM % 10))"
  kill -9 "$daemon" 2>/dev/null || true
  wait "$daemon" 2>/dev/null || true
  k=$((k + 1)) run=$((run + 1))
  start_daemon "$t" $run
  total_kills=$((total_kills + k)) total_series=$((total_series + series_per_trial))
  # Let the last run finish everything (watch folder and spool empty), then stop it gracefully.
  deadline=$((SECONDS + 180))
  until [[ $(ls "$t/results" 2>/dev/null | wc -l) -ge $series_per_trial && -z "$(ls -A "$t/work/spool" 2>/dev/null)" \
           && -z "$(find "$t/incoming" -type f)" ]] || ((SECONDS > deadline)); do sleep 0.2; done
  kill -TERM "$daemon"; wait "$daemon" || true; daemon=""

  problems=$("$py" - "$t" "$series_per_trial" "$sent_files" "$bin" <<'PY'
import glob, json, os, subprocess, sys
t, expected, sent_files, binary = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
problems = []
results = sorted(os.listdir(f"{t}/results"))
if len(results) != expected: problems.append(f"{len(results)} result folders, expected {expected}")
slices = sent_files // expected
for r in results:
    names = sorted(os.listdir(f"{t}/results/{r}"))
    if names != ["image.nii.gz", "series.json"]: problems.append(f"result {r} holds {names}")
    elif json.load(open(f"{t}/results/{r}/series.json"))["size"][2] != slices:
        problems.append(f"result {r} has {json.load(open(f'{t}/results/{r}/series.json'))['size'][2]} slices, {slices} sent")
for dirpath, dirs, files in os.walk(f"{t}/results"):
    for name in dirs + files:
        if name.startswith(".") or "partial" in name or "tmp" in name: problems.append(f"temporary {name} under results")
archived = sum(len(f) for _, _, f in os.walk(f"{t}/archive"))
if archived != sent_files: problems.append(f"{archived} input files archived, {sent_files} sent")
left = sum(len(f) for _, _, f in os.walk(f"{t}/incoming"))
if left: problems.append(f"{left} files left in the watch folder")
if os.listdir(f"{t}/work/spool"): problems.append("spool not empty")
if os.path.exists(f"{t}/quarantine") and os.listdir(f"{t}/quarantine"): problems.append("something was quarantined")
status = json.loads(subprocess.run([binary, "status", "--config", f"{t}/lcovnet.toml", "--json"], capture_output=True, text=True).stdout)
states = {j["state"] for j in status["jobs"]}
if states != {"done"}: problems.append(f"ledger states {states}")
uids = {j["series_uid"] for j in status["jobs"]}
if len(uids) != expected: problems.append(f"{len(uids)} series in the ledger, expected {expected}")
late = sum(1 for j in status["jobs"] if j.get("attempts", 0) > 0) - expected
merged = sum(1 for j in status["jobs"] if j.get("reason_code") == "merged")
lines = 0
for path in glob.glob(f"{t}/stdout-*.jsonl"):
    for line in open(path, encoding="utf-8"):
        lines += 1
        try: json.loads(line)
        except ValueError:
            # A kill -9 can cut the very last line of a run; anything else is a failure.
            if not line.endswith("\n"): continue
            problems.append(f"not JSON: {line[:80]!r}")
        if "PHANTOM^LCOVNET" in line or "LCOVNET-PHANTOM" in line: problems.append("patient identity in a log line")
print("; ".join(problems) if problems else
      f"ok {lines} log lines, {late} series processed again with their late file, {merged} earlier jobs merged (not started or quarantined)")
PY
)
  if [[ "$problems" == ok* ]]; then
    echo "trial $trial: $series_per_trial series, $k kills: $problems"
  else
    echo "trial $trial: FAILED: $problems"
    failures=$((failures + 1))
  fi
done
echo "summary: $trials trials, $total_series series, $total_kills kills, $failures failed, $(( $(date +%s) - started )) s"
((failures == 0))
