#!/usr/bin/env bash
# test.sh: the whole test suite from a clean clone: setup (packages, models), a release
# build and its tests (ctest, then pytest over python/tests), then the C tests under
# AddressSanitizer + UBSan.
#   scripts/test.sh             everything
#   scripts/test.sh --quick     release build only
# Each phase ends with its time on one line ("== ... s"); ctest gives each test's.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
jobs="$(nproc 2>/dev/null || echo 2)"

"$here/scripts/setup.sh"

phase_start=$SECONDS
phase_done() { echo "== $1: $((SECONDS - phase_start)) s"; phase_start=$SECONDS; }

run_suite() { # build-folder, extra cmake args...
  local dir="$1"; shift
  cmake -S "$here" -B "$dir" "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
  phase_done "build $(basename "$dir")"
  # Two test programs at a time, each with half the cores for its networks: the programs'
  # serial parts (start-up, decoding, SQLite, the CLI's processes) then overlap instead of
  # leaving cores idle. The tests share no files (each writes under its own names in
  # tests/tmp), so their order does not matter.
  local threads=$(( jobs / 2 > 0 ? jobs / 2 : 1 ))
  FACEREC_THREADS="$threads" ctest --test-dir "$dir" --output-on-failure -j "$jobs"
  phase_done "tests $(basename "$dir")"
}

run_suite "$here/build" -DCMAKE_BUILD_TYPE=Release
# the Python package (python/) against the library just built, with Debian's Python (the one
# that has python3-numpy and python3-pytest); LFW from the shared data folder if present;
# prepared files in the build tree, as for ctest
status=0
FACEREC_LIBRARY="$here/build/libfacerec.so" FACEREC_DATA="${FACEREC_DATA:-$here/../shared/data}" \
  FACEREC_CACHE="$here/build/tests/tmp/cache" PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 -m pytest -q -p no:cacheprovider "$here/python/tests" \
  || status=$?
if [ "$status" = 5 ]; then
  echo "test.sh: pytest collected no tests in python/tests" >&2
  exit 1
elif [ "$status" != 0 ]; then
  exit "$status"
fi
phase_done "pytest"
if [ "${1:-}" != "--quick" ]; then
  # halt_on_error keeps a sanitizer report fatal; leaks are errors too.
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  # every parser against malformed input: a fixed number of inputs from a fixed seed each (one
  # line per target; a target's log only if it fails)
  "$here/scripts/fuzz.sh"
  phase_done "fuzz"
  # the acceptance runs over hundreds of photos stay in the optimised pass above
  export FACEREC_TEST_QUICK=1
  # -g1: line tables for the sanitizers' reports, without the full debug information that
  # slows the compiler and the linker
  run_suite "$here/build-sanitize" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFACEREC_SANITIZE=ON \
    -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG"
fi
