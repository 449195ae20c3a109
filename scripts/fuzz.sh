#!/usr/bin/env bash
# fuzz.sh: build the libFuzzer targets (tests/fuzz/fuzz_*.c, clang with ASan + UBSan) and run
# every one of them on its seeds.
#   scripts/fuzz.sh            CI: each target for a fixed number of inputs from a fixed seed
#                              (the same inputs on every machine), two targets at a time; one
#                              line per target, a target's whole log only if it fails
#   scripts/fuzz.sh 600        600 seconds per target on a random seed, two targets at a time
#                              (the logs stay in build-fuzz/logs/)
#   FACEREC_FUZZ_RUNS=N        in CI mode: N inputs per target instead of each target's own count
#   FACEREC_FUZZ_BUILD=DIR     build folder (default build-fuzz), FACEREC_FUZZ_JOBS=N targets at once
# A target's libFuzzer options are on its line "fuzz.sh options: ..." (-runs=N there is its
# number of inputs in CI mode, 20000 if it gives none). Its seeds: the files of tests/fuzz/corpus/<target>/ and
# whatever the executable tests/fuzz/corpus/<target>.sh writes into the folder it is given.
# Exits non-zero if a target fails; the crashing input is left in the build folder (crash-*).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${1:-}"
build="${FACEREC_FUZZ_BUILD:-$here/build-fuzz}"
jobs="${FACEREC_FUZZ_JOBS:-2}"

targets=()
for src in "$here"/tests/fuzz/fuzz_*.c; do targets+=("$(basename "$src" .c)"); done
CC=clang cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release -DFACEREC_FUZZ=ON >/dev/null
build_args=()
for t in "${targets[@]}"; do build_args+=(--target "$t"); done
cmake --build "$build" -j "$jobs" "${build_args[@]}" >"$build/build.log" 2>&1 || {
  cat "$build/build.log" >&2
  exit 1
}

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export TMPDIR="${FACEREC_FUZZ_TMP:-$(test -d /dev/shm && echo /dev/shm || echo /tmp)}"

# run_target NAME [SECONDS]: fresh corpus from the seeds, then libFuzzer; output to logs/NAME.log
run_target() {
  local t="$1" seconds="${2:-}" corpus="$build/corpus/$1" log="$build/logs/$1.log"
  rm -rf "$corpus" && mkdir -p "$corpus" "$build/logs"
  if [ -d "$here/tests/fuzz/corpus/$t" ]; then cp "$here/tests/fuzz/corpus/$t"/* "$corpus/"; fi
  if [ -x "$here/tests/fuzz/corpus/$t.sh" ]; then "$here/tests/fuzz/corpus/$t.sh" "$corpus" || return 1; fi
  local declared options=() runs=20000
  read -r -a declared <<<"$(sed -n 's/.*fuzz\.sh options: *\(.*\)$/\1/p' "$here/tests/fuzz/$t.c" | head -1)"
  for o in ${declared[@]+"${declared[@]}"}; do
    case "$o" in -runs=*) runs="${o#-runs=}" ;; *) options+=("$o") ;; esac
  done
  local budget=(-seed=1 -runs="${FACEREC_FUZZ_RUNS:-$runs}")
  [ -n "$seconds" ] && budget=(-max_total_time="$seconds")
  local start=$SECONDS status=0
  (cd "$build" && "$build/tests/$t" ${options[@]+"${options[@]}"} "${budget[@]}" -rss_limit_mb=4096 \
     -timeout=10 -print_final_stats=1 "$corpus") >"$log" 2>&1 || status=$?
  local stats
  stats="$(grep -a '^#[0-9]*[[:space:]]*DONE' "$log" | tail -1 | sed 's/^#\([0-9]*\)[[:space:]]*DONE[[:space:]]*/inputs \1 /')"
  if [ "$status" -ne 0 ]; then
    echo "fuzz: $t FAILED (exit $status) after $((SECONDS - start)) s; its log ($log):" >&2
    tail -n 80 "$log" >&2
    return 1
  fi
  echo "fuzz: $t ok in $((SECONDS - start)) s: $stats"
}
export -f run_target
export here build seconds FACEREC_FUZZ_RUNS

printf '%s\n' "${targets[@]}" | xargs -P "$jobs" -I{} bash -c 'run_target "$1" "$seconds"' _ {}
