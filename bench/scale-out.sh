#!/usr/bin/env bash
# Benchmark (not a test): throughput of 1, 2, 3 ... `lcovnet serve` workers sharing one
# PostgreSQL ledger (issue 22). A private PostgreSQL server on loopback; per run a fresh
# database; each worker its own watch and work folder, all sharing spool and results; the
# series (phantoms as DICOM) dropped round-robin into the workers' watch folders, as a DICOM
# router would spread them; the clock runs from the first drop until the ledger shows every
# series done. Each worker: `segment` job (the embedded model, int8), one job at a time, one
# thread. Writes a markdown table to stdout; append it to docs/BENCHMARKS.md.
# Usage: bench/scale-out.sh [series] [worker counts] [matrix]   e.g. bench/scale-out.sh 12 "1 2 3" 128
set -euo pipefail
cd "$(dirname "$0")/.."
series=${1:-12}
counts=${2:-"1 2 3"}
matrix=${3:-128}
pg=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
work=$(mktemp -d /tmp/lcovnet-bench-scale.XXXXXX)
chmod 755 "$work"
bin=${BIN:-$(swift build -c release --show-bin-path)/lcovnet}
[ -x "$bin" ] || { swift build -c release --product lcovnet >/dev/null; }
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/pg"
[ "$(id -u)" = 0 ] && chown postgres:postgres "$work/pg"
as_postgres "$pg/initdb" -D "$work/pg/data" -A trust -U lcovnet -E UTF8 --no-sync >/dev/null
as_postgres "$pg/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w \
    -o "-p $port -k $work/pg -c listen_addresses=127.0.0.1" start >/dev/null
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    as_postgres "$pg/pg_ctl" -D "$work/pg/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
psql_run() { "$pg/psql" -X -A -t -v ON_ERROR_STOP=1 -d "postgresql://lcovnet@127.0.0.1:$port/$1" -c "$2"; }

for s in $(seq 1 "$series"); do
    "$bin" phantom --format dicom --seed $((5000 + s)) --matrix "$matrix" -o "$work/series/$s" >/dev/null
done
slices=$(ls "$work/series/1/dicom" | wc -l)

echo "| workers | series | wall s | series / hour | mean job s | jobs per worker |"
echo "|---|---|---|---|---|---|"
for n in $counts; do
    db=run$n
    psql_run postgres "CREATE DATABASE $db" >/dev/null
    run=$work/run$n
    pids=()
    for w in $(seq 1 "$n"); do
        mkdir -p "$run/w$w"
        cat >"$run/w$w/lcovnet.toml" <<EOF
[paths]
watch = "$run/w$w/incoming"
work = "$run/w$w/work"
spool = "$run/shared/spool"
output = "$run/shared/results"
quarantine = "$run/shared/quarantine"
archive = "$run/shared/archive"
[ingest]
quiet_seconds = 1
[retention]
after_success = "delete"
[job]
kind = "segment"
threads = 1
[limits]
concurrency = 1
[metrics]
port = 0
[retrain]
cache = false
[ledger]
url = "postgresql://lcovnet@127.0.0.1:$port/$db"
worker = "w$w"
lease_seconds = 10
EOF
        "$bin" serve --config "$run/w$w/lcovnet.toml" >"$run/w$w/log.jsonl" 2>&1 &
        pids+=($!)
    done
    sleep 3
    start=$(date +%s.%N)
    for s in $(seq 1 "$series"); do
        w=$(( (s - 1) % n + 1 ))
        mkdir -p "$run/w$w/incoming"
        cp -r "$work/series/$s/dicom" "$run/w$w/incoming/.s$s"
        mv "$run/w$w/incoming/.s$s" "$run/w$w/incoming/s$s"
    done
    until [ "$(psql_run "$db" "SELECT count(*) FROM job WHERE state = 'done'" 2>/dev/null || echo 0)" -ge "$series" ]; do
        for p in "${pids[@]}"; do
            kill -0 "$p" 2>/dev/null || { echo "a worker exited:" >&2; tail -3 "$run"/w*/log.jsonl >&2; exit 1; }
        done
        sleep 0.5
    done
    wall=$(echo "$(date +%s.%N) - $start" | bc -l)
    mean=$(psql_run "$db" "SELECT round(avg(duration_ms) / 1000.0, 1) FROM job")
    per=$(psql_run "$db" "SELECT string_agg(n::text, '/' ORDER BY h) FROM (SELECT lease_holder h, count(*) n FROM job GROUP BY 1) t")
    for p in "${pids[@]}"; do kill -TERM "$p"; done
    wait "${pids[@]}" 2>/dev/null || true
    printf "| %d | %d | %.1f | %.0f | %s | %s |\n" "$n" "$series" "$wall" "$(echo "$series * 3600 / $wall" | bc -l)" \
        "$mean" "$per"
done
echo
echo "Series: phantoms ${matrix}² × $slices slices (\`lcovnet phantom --format dicom --matrix $matrix\`, seeds 5001-$((5000 + series)))."
