#!/usr/bin/env bash
# fusion_weights.sh: how the default fusion weight is chosen, and what it gives. For each
# weight W of mobilefacenet in `fusion:W` it measures
#   - the AUC on LFW View 1's training pairs (pairsDevTrain.txt) and its bootstrap standard
#     error (`facerec eval lfw`),
#   - FNIR at FPIR 1% of open-set 1:N search (`facerec eval identify`) on half A of LFW's
#     people, on half B, and on all of them (the halves split the people by the SHA-256 of
#     their names; --split),
# then applies the rule: among the weights whose View 1 AUC is within one standard error of
# the best, the one with the lowest FNIR on half A. Half B, all of LFW and View 2 report it;
# they choose nothing. A second table measures gallery-cohort score normalisation at that
# weight (--cohort-norm). Prints Markdown for BENCHMARKS.md.
#   scripts/fusion_weights.sh [BUILD_DIR]
#     BUILD_DIR   a Release build (default: build)
# Environment: FACEREC_DATA, the shared data folder (default: ../shared/data beside the
# repository). Every LFW photo is embedded once by each member model (the embedding cache
# keeps them; about half an hour on two cores the first time), then each row takes seconds.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$here/build}"
facerec="$build/facerec"
lfw="${FACEREC_DATA:-$here/../shared/data}/lfw-deepfunneled"
[ -x "$facerec" ] || { echo "fusion_weights.sh: $facerec not built" >&2; exit 1; }
[ -f "$lfw/pairsDevTrain.txt" ] || { echo "fusion_weights.sh: LFW not found at $lfw (set FACEREC_DATA)" >&2; exit 1; }

weights=(0.05 0.08 0.1 0.12 0.15 0.2 0.25 0.3 0.4 0.5 0.7 0.9)
# one JSON value from a facerec --json record
field() { python3 -c 'import json, sys; print(json.loads(sys.stdin.read())[sys.argv[1]])' "$1"; }

rows=()
for w in "${weights[@]}"; do
    v1=$("$facerec" eval lfw --dir "$lfw" --pairs "$lfw/pairsDevTrain.txt" \
        --train "$lfw/pairsDevTest.txt" --model "fusion:$w" --json)
    a=$("$facerec" eval identify --dir "$lfw" --model "fusion:$w" --split A --json)
    b=$("$facerec" eval identify --dir "$lfw" --model "fusion:$w" --split B --json)
    all=$("$facerec" eval identify --dir "$lfw" --model "fusion:$w" --json)
    rows+=("$w $(field auc <<<"$v1") $(field auc_se <<<"$v1") $(field fnir <<<"$a") $(field fnir <<<"$b") $(field fnir <<<"$all") $(field rank1 <<<"$all")")
done

chosen=$(printf '%s\n' "${rows[@]}" | python3 -c '
import sys
rows = [line.split() for line in sys.stdin if line.strip()]
best = max(rows, key=lambda r: float(r[1]))
floor = float(best[1]) - float(best[2])
near = [r for r in rows if float(r[1]) >= floor]
print(min(near, key=lambda r: float(r[3]))[0])')

echo "| fusion weight of mobilefacenet | View 1 training AUC (± bootstrap SE) | within noise of the best | FNIR at FPIR 1%, half A (chooses) | half B (reports) | all of LFW (reports) | rank-1 %, all |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}" | python3 -c '
import sys
rows = [line.split() for line in sys.stdin if line.strip()]
best = max(rows, key=lambda r: float(r[1]))
floor = float(best[1]) - float(best[2])
chosen = sys.argv[1]
for w, auc, se, a, b, full, rank1 in rows:
    mark = " (chosen)" if w == chosen else ""
    near = "yes" if float(auc) >= floor else "no"
    print(f"| {w}{mark} | {float(auc):.6f} ± {float(se):.6f} | {near} "
          f"| {100 * float(a):.2f} | {100 * float(b):.2f} | {100 * float(full):.2f} | {100 * float(rank1):.2f} |")' "$chosen"
echo
echo "Rule: the lowest FNIR on half A among the weights within one standard error of the best View 1 AUC: fusion:$chosen."
echo
echo "| score at fusion:$chosen | FNIR at FPIR 1%, half A | half B | all of LFW |"
echo "|---|---|---|---|"
for c in 0 0.3 0.6 1; do
    line="| distance - $c x cohort"
    [ "$c" = 0 ] && line="| distance"
    for split in A B all; do
        args=(eval identify --dir "$lfw" --model "fusion:$chosen" --cohort-norm "$c" --json)
        [ "$split" = all ] || args+=(--split "$split")
        line="$line | $(python3 -c 'import sys; print(f"{100 * float(sys.argv[1]):.2f}")' "$("$facerec" "${args[@]}" | field fnir)")"
    done
    echo "$line |"
done
