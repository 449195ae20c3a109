#!/usr/bin/env bash
# serve_bench.sh: load benchmark of facerec serve with wrk: POST /api/identify of one face
# photo against galleries of 1,000 and 100,000 synthetic people (random unit vectors; the probe
# is a stranger to all), at 1, 8 and 64 connections: throughput, median and p99 latency,
# failed requests; then the server's resident memory after 1,000 and after 10,000 requests.
# Prints Markdown rows for BENCHMARKS.md.
#
#   scripts/serve_bench.sh [SECONDS]      each wrk run lasts SECONDS (default 20)
# Environment: MODEL (default mobilefacenet), WORKERS (default: the cores), SIZES ("1000 100000"),
# TABLE_SIZES and RSS_SIZES (the galleries of the wrk table and of the memory figures;
# default: SIZES),
# BENCH_TMP (where galleries are made; default /dev/shm, where a commit costs no fsync).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${1:-20}"
model="${MODEL:-mobilefacenet}"
workers="${WORKERS:-$(nproc)}"
sizes="${SIZES:-1000 100000}"
rss_sizes="${RSS_SIZES:-$sizes}"
table_sizes="${TABLE_SIZES:-$sizes}"
tmp="${BENCH_TMP:-/dev/shm}/facerec-serve-bench"
build="$here/build"
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "$(nproc)" --target facerec_cli facerec_serve synthetic_gallery >/dev/null
mkdir -p "$tmp/crops"
"$build/facerec" detect --crops "$tmp/crops" "$here/models/face-api/demo/sample1.jpg" >/dev/null
export PROBE="$tmp/crops/sample1_1.jpg"
dim="$("$build/facerec" embed --json --model "$model" "$PROBE" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["faces"][0]["embedding"]))')"

server_pid=
rss_rows=()
stop_server() { [ -n "$server_pid" ] && kill -TERM "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null; server_pid=; }
trap stop_server EXIT

start_server() { # gallery -> sets server_pid, port
  local log="$tmp/server.log"
  "$build/facerec-serve" --db "$1" --listen 127.0.0.1:0 --model "$model" --workers "$workers" \
    --queue 256 --timeout 120 2>"$log" &
  server_pid=$!
  for _ in $(seq 600); do
    port="$(sed -n 's|.* on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$log")"
    [ -n "$port" ] && return 0
    sleep 0.1
  done
  echo "serve_bench: the server did not start:" >&2; cat "$log" >&2; exit 1
}

run_wrk() { # connections threads [duration] -> RESULT line
  wrk -t "$2" -c "$1" -d "${3:-${seconds}s}" --timeout 60s -s "$here/scripts/serve_bench.lua" \
    "http://127.0.0.1:$port" | sed -n 's/^RESULT //p'
}
field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" <<<"$2"; }
answered() { # requests the server has answered, from its metrics
  curl -s "http://127.0.0.1:$port/metrics" | awk '/^facerec_request_duration_seconds_count/ {print $2}'
}
requests_until() { # n: keep 8 connections busy until the server has answered n requests
  while [ "$(answered)" -lt "$1" ]; do run_wrk 8 1 5s >/dev/null; done
}
rss_mb() { awk '/VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$server_pid/status"; }

echo "model $model (flip on), $workers workers x $(( $(nproc) / workers > 0 ? $(nproc) / workers : 1 )) threads, $(nproc) cores; probe $(basename "$PROBE"); wrk ${seconds}s per row"
echo
echo "| gallery | connections | requests/s | median ms | p99 ms | failed |"
echo "|---:|---:|---:|---:|---:|---:|"
for n in $sizes; do
  db="$tmp/synthetic-$model-$n.db"
  if [ ! -f "$db" ]; then
    rm -f "$db"*
    "$build/synthetic_gallery" "$db" "$model" "$dim" "$n"
  fi
  export KEY="$("$build/facerec-serve" keys add --role recognize --db "$db" --label bench 2>/dev/null)"
  start_server "$db"
  if [[ " $table_sizes " == *" $n "* ]]; then
    run_wrk 1 1 10s >/dev/null # warm up: the gallery's index is loaded by the first search
    for c in 1 8 64; do
      r="$(run_wrk "$c" "$(( c < 2 ? 1 : 2 ))")"
      printf "| %s | %d | %s | %s | %s | %s |\n" "$n" "$c" "$(field rps "$r")" "$(field p50_ms "$r")" \
        "$(field p99_ms "$r")" "$(field failed "$r")"
    done
  fi
  stop_server
  # resident memory after 1,000 and after 10,000 identify requests (8 connections)
  [[ " $rss_sizes " == *" $n "* ]] || continue
  start_server "$db"
  requests_until 1000
  rss_1k="$(rss_mb)" n_1k="$(answered)"
  requests_until 10000
  rss_10k="$(rss_mb)" n_10k="$(answered)"
  rss_rows+=("| $n | $rss_1k (after $n_1k) | $rss_10k (after $n_10k) | $(python3 -c "print(f'{100 * ($rss_10k - $rss_1k) / $rss_1k:+.1f}%')") |")
  stop_server
done
echo
echo "| gallery | RSS after 1,000 requests (MB) | after 10,000 (MB) | change |"
echo "|---:|---:|---:|---:|"
printf "%s\n" "${rss_rows[@]}"
