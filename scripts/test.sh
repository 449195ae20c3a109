#!/usr/bin/env bash
# test.sh: the whole test suite from a clean clone: setup (packages, models), a release
# build and its tests (ctest, then pytest over python/tests), then the C tests under
# AddressSanitizer + UBSan.
#   scripts/test.sh             everything
#   scripts/test.sh --quick     release build only
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
jobs="$(nproc 2>/dev/null || echo 2)"

"$here/scripts/setup.sh"

run_suite() { # build-folder, extra cmake args...
  local dir="$1"; shift
  cmake -S "$here" -B "$dir" "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
  ctest --test-dir "$dir" --output-on-failure -j 1
}

run_suite "$here/build" -DCMAKE_BUILD_TYPE=Release
# the Python package (python/) against the library just built, with Debian's Python (the one
# that has python3-numpy and python3-pytest); LFW from the shared data folder if present
status=0
FACEREC_LIBRARY="$here/build/libfacerec.so" FACEREC_DATA="${FACEREC_DATA:-$here/../shared/data}" \
  PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 -m pytest -q -p no:cacheprovider "$here/python/tests" \
  || status=$?
if [ "$status" = 5 ]; then
  echo "test.sh: pytest collected no tests in python/tests" >&2
  exit 1
elif [ "$status" != 0 ]; then
  exit "$status"
fi
if [ "${1:-}" != "--quick" ]; then
  # halt_on_error keeps a sanitizer report fatal; leaks are errors too.
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  # every parser against malformed input: a fixed number of inputs from a fixed seed each
  "$here/scripts/fuzz.sh"
  # the acceptance runs over hundreds of photos stay in the optimised pass above
  export FACEREC_TEST_QUICK=1
  run_suite "$here/build-sanitize" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFACEREC_SANITIZE=ON
fi
