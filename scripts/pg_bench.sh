#!/usr/bin/env bash
# pg_bench.sh: facerec serve over a shared PostgreSQL gallery at scale. Prints Markdown rows for
# BENCHMARKS.md:
#   - loading N synthetic templates (random unit vectors of the model's length) into
#     PostgreSQL: made in an SQLite file by synthetic_gallery, then `facerec gallery copy`;
#   - cold start of a server (connect, read every template, ready to answer) on PostgreSQL and
#     on the same gallery in SQLite: seconds to the ready line, and the index's own load time
#     and rate as the server reports it;
#   - POST /api/identify latency (wrk, 1 connection) against that gallery, PostgreSQL vs SQLite;
#   - throughput (wrk, 8 connections) with one server, and with two servers sharing the
#     database (4 connections each, at the same time), with the CPU time each request cost
#     the server (user + system, from /proc) so the scaling on more cores can be computed;
#   - change propagation: 100 enrollments through server A, each timed until identification
#     through server B names the new person (scripts/pg_propagation.py).
# A throwaway PostgreSQL 15 cluster is made and deleted (tests/postgres_cluster.sh).
#
#   scripts/pg_bench.sh [N]        N templates (default 1000000)
# Environment: MODEL (default fusion, facerec's default), RUN_SECONDS (each wrk run, default 20),
# PROPAGATIONS (default 100), BENCH_TMP (default /dev/shm: the SQLite file and the cluster).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
n="${1:-1000000}"
seconds="${RUN_SECONDS:-20}"
propagations="${PROPAGATIONS:-100}"
tmp="${BENCH_TMP:-/dev/shm}/facerec-pg-bench"
build="$here/build"
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "$(nproc)" --target facerec_cli facerec_serve synthetic_gallery >/dev/null
mkdir -p "$tmp/crops"
chmod 755 "$tmp"
model="${MODEL:-fusion}" # FR_DEFAULT_MODEL
model_args=(--model "$model")
"$build/facerec" detect --crops "$tmp/crops" "$here/models/face-api/demo/sample1.jpg" >/dev/null
export PROBE="$tmp/crops/sample1_1.jpg"
dim="$("$build/facerec" embed --json "${model_args[@]}" "$PROBE" |
  python3 -c 'import json,sys; print(len(json.load(sys.stdin)["faces"][0]["embedding"]))')"

cluster="$tmp/pg"
servers=()
cleanup() {
  for pid in "${servers[@]}"; do kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
  "$here/tests/postgres_cluster.sh" destroy "$cluster" >/dev/null 2>&1 || true
}
trap cleanup EXIT
"$here/tests/postgres_cluster.sh" destroy "$cluster" >/dev/null 2>&1 || true
uri="$("$here/tests/postgres_cluster.sh" start "$cluster")"

now() { date +%s.%N; }
elapsed() { python3 -c "print(f'{$2 - $1:.2f}')"; }

# --- the gallery: SQLite (kept between runs), then copied into PostgreSQL
sqlite="$tmp/synthetic-$model-$dim-$n.db"
if [ ! -f "$sqlite" ]; then
  rm -f "$sqlite"*
  t0="$(now)"
  "$build/synthetic_gallery" "$sqlite" "$model" "$dim" "$n"
  echo "synthetic SQLite gallery of $n templates made in $(elapsed "$t0" "$(now)") s" >&2
fi
t0="$(now)"
"$build/facerec" gallery copy --from "$sqlite" --to "$uri" >/dev/null
load_s="$(elapsed "$t0" "$(now)")"
admin="$("$build/facerec-serve" keys add --role admin --db "$uri" --label bench)"
recognize="$("$build/facerec-serve" keys add --role recognize --db "$uri" --label bench)"
sqlite_key="$("$build/facerec-serve" keys add --role recognize --db "$sqlite" --label bench)"

# --- servers
declare -A port_of pid_of ready_of indexed_of indexed_cpu_of
start_server() { # name db -> port_of[name], pid_of[name], ready_of[name] (s), indexed_of[name] (s)
  local log="$tmp/$1.log" t0
  t0="$(now)"
  "$build/facerec-serve" --db "$2" --listen 127.0.0.1:0 "${model_args[@]}" --queue 256 \
    --timeout 120 2>"$log" &
  pid_of[$1]=$!
  servers+=("${pid_of[$1]}")
  for _ in $(seq 3000); do
    if grep -q " on http://" "$log"; then
      ready_of[$1]="$(elapsed "$t0" "$(now)")"
      port_of[$1]="$(sed -n 's|.* on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$log")"
      indexed_of[$1]="$(sed -n 's|.*templates indexed in \([0-9.]*\) s.*|\1|p' "$log")"
      indexed_cpu_of[$1]="$(sed -n 's|.*templates indexed in [0-9.]* s, \([0-9.]*\) s CPU.*|\1|p' "$log")"
      return 0
    fi
    kill -0 "${pid_of[$1]}" 2>/dev/null || break
    sleep 0.1
  done
  echo "pg_bench: the server $1 did not start:" >&2; cat "$log" >&2; exit 1
}
stop_server() {
  kill -TERM "${pid_of[$1]}" && wait "${pid_of[$1]}" || true
  local keep=()
  for pid in "${servers[@]}"; do [ "$pid" != "${pid_of[$1]}" ] && keep+=("$pid"); done
  servers=("${keep[@]}")
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
answered() { curl -s "http://127.0.0.1:$1/metrics" | awk '/^facerec_request_duration_seconds_count/ {print $2}'; }
run_wrk() { # port connections duration key -> RESULT line
  KEY="$4" wrk -t 1 -c "$2" -d "$3" --timeout 60s -s "$here/scripts/serve_bench.lua" \
    "http://127.0.0.1:$1" | sed -n 's/^RESULT //p'
}
field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" <<<"$2"; }
rate() { python3 -c "print(f'{$1 / $2:,.0f}')"; }

echo "$n synthetic $dim-d templates (model $model), 1 per person; $(nproc) cores; wrk ${seconds}s per run; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| step | seconds | templates/s | server CPU seconds | templates per CPU second |"
echo "|---|---:|---:|---:|---:|"
echo "| copy SQLite -> PostgreSQL (facerec gallery copy) | $load_s | $(rate "$n" "$load_s") | - | - |"
start_server sqlite "$sqlite"
echo "| cold start on SQLite: index load (as the server reports it) | ${indexed_of[sqlite]} | $(rate "$n" "${indexed_of[sqlite]}") | ${indexed_cpu_of[sqlite]} | $(rate "$n" "${indexed_cpu_of[sqlite]}") |"
echo "| cold start on SQLite: process start to ready (networks + index) | ${ready_of[sqlite]} | - | - | - |"
stop_server sqlite
start_server a "$uri"
echo "| cold start on PostgreSQL: index load (as the server reports it) | ${indexed_of[a]} | $(rate "$n" "${indexed_of[a]}") | ${indexed_cpu_of[a]} | $(rate "$n" "${indexed_cpu_of[a]}") |"
echo "| cold start on PostgreSQL: process start to ready (networks + index) | ${ready_of[a]} | - | - | - |"
echo

# --- latency, one connection: PostgreSQL, then SQLite with the same gallery
echo "| identify, 1 connection | requests/s | median ms | p99 ms | failed |"
echo "|---|---:|---:|---:|---:|"
run_wrk "${port_of[a]}" 1 5s "$recognize" >/dev/null # warm up
r="$(run_wrk "${port_of[a]}" 1 "${seconds}s" "$recognize")"
echo "| PostgreSQL | $(field rps "$r") | $(field p50_ms "$r") | $(field p99_ms "$r") | $(field failed "$r") |"
start_server sqlite "$sqlite"
run_wrk "${port_of[sqlite]}" 1 5s "$sqlite_key" >/dev/null
r="$(run_wrk "${port_of[sqlite]}" 1 "${seconds}s" "$sqlite_key")"
echo "| SQLite | $(field rps "$r") | $(field p50_ms "$r") | $(field p99_ms "$r") | $(field failed "$r") |"
stop_server sqlite
echo

# --- throughput: one server, then two sharing the database
echo "| identify throughput | requests/s (sum) | median ms | failed | server CPU ms per request |"
echo "|---|---:|---:|---:|---:|"
tick_ms="$(python3 -c "import os; print(1000 / os.sysconf('SC_CLK_TCK'))")"
c0="$(cpu_ticks "${pid_of[a]}")" q0="$(answered "${port_of[a]}")"
r="$(run_wrk "${port_of[a]}" 8 "${seconds}s" "$recognize")"
c1="$(cpu_ticks "${pid_of[a]}")" q1="$(answered "${port_of[a]}")"
cpu="$(python3 -c "print(f'{($c1 - $c0) * $tick_ms / ($q1 - $q0):.0f}')")"
echo "| 1 server, 8 connections | $(field rps "$r") | $(field p50_ms "$r") | $(field failed "$r") | $cpu |"
start_server b "$uri"
run_wrk "${port_of[b]}" 1 5s "$recognize" >/dev/null
ca0="$(cpu_ticks "${pid_of[a]}")" cb0="$(cpu_ticks "${pid_of[b]}")"
qa0="$(answered "${port_of[a]}")" qb0="$(answered "${port_of[b]}")"
run_wrk "${port_of[a]}" 4 "${seconds}s" "$recognize" >"$tmp/wrk_a" &
wrk_a=$!
rb="$(run_wrk "${port_of[b]}" 4 "${seconds}s" "$recognize")"
wait "$wrk_a"
ra="$(cat "$tmp/wrk_a")"
ca1="$(cpu_ticks "${pid_of[a]}")" cb1="$(cpu_ticks "${pid_of[b]}")"
qa1="$(answered "${port_of[a]}")" qb1="$(answered "${port_of[b]}")"
sum="$(python3 -c "print(f'{$(field rps "$ra") + $(field rps "$rb"):.2f}')")"
cpu="$(python3 -c "print(f'{($ca1 - $ca0 + $cb1 - $cb0) * $tick_ms / ($qa1 - $qa0 + $qb1 - $qb0):.0f}')")"
echo "| 2 servers, 4 connections each | $sum | $(field p50_ms "$ra") / $(field p50_ms "$rb") | $(( $(field failed "$ra") + $(field failed "$rb") )) | $cpu |"
echo

# --- propagation: enroll through A, seen through B
r="$(python3 "$here/scripts/pg_propagation.py" "${port_of[a]}" "${port_of[b]}" "$admin" "$PROBE" "$propagations" |
  tee "$tmp/propagation.log" | sed -n 's/^RESULT //p')"
echo "| change propagation (enroll through A, named through B) | median s | max s | resolution s |"
echo "|---|---:|---:|---:|"
echo "| $(field count "$r") enrollments | $(field median_s "$r") | $(field max_s "$r") | $(field resolution_s "$r") |"
echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "server memory: A $(awk '/VmRSS/ {printf "%.0f MB", $2 / 1024}' "/proc/${pid_of[a]}/status"), B $(awk '/VmRSS/ {printf "%.0f MB", $2 / 1024}' "/proc/${pid_of[b]}/status") resident"
