#!/usr/bin/env bash
# relight_eval.sh: the relit set's figures as Markdown table rows, one per lighting condition
# (unlit, then the bands of the lamp's angle), for BENCHMARKS.md.
#   scripts/relight_eval.sh [--facerec BIN] [--label TEXT] [--landmarks] SET HALF [OPTION...]
#     SET        a relit set (facerec eval relight --out SET)
#     HALF       tune (where defaults are chosen) or test (where they are reported)
#     OPTION...  passed to facerec eval (e.g. --photometric histeq, --model mobilefacenet)
#     --facerec  the facerec binary (default: build/facerec)
#     --label    the rows' first column (default: the options, or "default")
#     --landmarks  the alignment's quality (facerec eval landmarks) instead of verification
# Verification rows: label | condition | no face: detected / taken whole / centre crop |
# accuracy % | AUC. Landmark rows: label | condition | detected / whole / none | the five
# alignment points' error over the eyes' distance, mean and median | faces above 0.1.
set -uo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
facerec="$here/build/facerec"; label=""; landmarks=0
while [ $# -gt 0 ]; do
  case "$1" in
    --facerec) facerec="$2"; shift 2 ;;
    --label) label="$2"; shift 2 ;;
    --landmarks) landmarks=1; shift ;;
    *) break ;;
  esac
done
if [ $# -lt 2 ]; then
  echo "usage: relight_eval.sh [--facerec BIN] [--label TEXT] [--landmarks] SET HALF [OPTION...]" >&2
  exit 2
fi
set_dir="$1"; half="$2"; shift 2
[ -n "$label" ] || label="${*:-default}"
if [ ! -f "$set_dir/$half/landmarks.txt" ]; then
  echo "relight_eval.sh: $set_dir/$half is not a half of a relit set" >&2
  exit 1
fi
# one row from the JSON record on stdin
row() { # kind, label, condition
  python3 -c '
import json, sys
kind, label, condition = sys.argv[1:4]
r = json.load(sys.stdin)
if kind == "landmarks":
    print("| %s | %s | %d / %d / %d | %.3f | %.3f | %d |" % (label, condition, r["detected"],
          r["whole_image"], r["no_face_images"], r["mean_error"], r["median_error"],
          r["error_over_0.1"]))
else:
    whole = r.get("whole_image_faces")
    detected = r["images"] - r["no_face_images"] - (whole or 0)
    print("| %s | %s | %d / %s / %d | %.2f | %.4f |" % (label, condition, detected,
          "-" if whole is None else whole, r["no_face_images"], 100 * r["accuracy"], r["auc"]))
' "$@"
}
for condition in unlit a00-20 a20-40 a40-60 a60-80; do
  dir="$set_dir/$half/$condition"
  if [ "$landmarks" = 1 ]; then
    "$facerec" eval landmarks --dir "$dir" --reference "$set_dir/$half/landmarks.txt" --json "$@" |
      row landmarks "$label" "$condition" || exit 1
  else
    "$facerec" eval lfw --dir "$dir" --pairs "$dir/pairs.txt" --json "$@" |
      row lfw "$label" "$condition" || exit 1
  fi
done
