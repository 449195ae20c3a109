#!/usr/bin/env bash
# fuzz_calibration.sh OUT: the calibration files shipped in data/calibration (the ones
# galleries without a calibration of their own read) as seeds, beside the hand-made ones.
set -euo pipefail
out="$1"
shipped="$(cd "$(dirname "$0")/../../.." && pwd)/data/calibration"
for f in "$shipped"/*.txt; do cp "$f" "$out/shipped-$(basename "$f")"; done
