#!/usr/bin/env bash
# finetune_eval.sh: does `facerec train` help on people it never saw? People are split, never
# photos. Prints Markdown tables of verification accuracy before and after training
# (the README's "When it helps" and BENCHMARKS.md quote them).
#   scripts/finetune_eval.sh [BUILD_DIR] [PART]
#     BUILD_DIR   a Release build (default: build)
#     PART        tuned (default: the tuned runs on LFW and ORL, about half an hour on two
#                 cores), relit (the defaults on the relit set, and MobileFaceNet trained
#                 whole on a subset of it, about 25 minutes), view2 (the
#                 defaults on LFW people absent from View 2, tested on View 2, about 15
#                 minutes), or all
#
# relit: `facerec eval relight` builds the relit set; `facerec train` with its defaults (no
# option but --data and --out) trains on the tune half (every condition: unlit and the four
# light bands, each person one folder), and each band of the test half (other people) is
# measured with `facerec eval lfw` on its pairs.txt, on mobilefacenet (the head's base) and
# on the trained head; `facerec train --full --model mobilefacenet` trains the whole network
# on each tune person's first two photos at 40-60 and at 60-80 degrees.
# view2: the defaults train on LFW's people with two photos or more who appear nowhere in
# View 2 (pairs.txt), and View 2 is measured before and after.
# Environment: FACEREC_DATA, the shared data folder (default: ../shared/data beside the
# repository).
#
# LFW: the people with two photos or more who are absent from pairsDevTest.txt train (every
# eighth of them by name is kept apart for --val); the test is pairsDevTest.txt (its threshold
# chosen on pairsDevTrain.txt). --full trains on a subset (every fourth training person, four
# photos each), as it runs the whole network for every batch.
# ORL: s1-s15 train, s16-s20 validate, s21-s40 are tested with `facerec eval folder`.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$here/build}"
part="${2:-tuned}"
case "$part" in tuned|relit|view2|all) ;; *) echo "finetune_eval.sh: unknown part '$part'" >&2; exit 2 ;; esac
facerec="$build/facerec"
data="${FACEREC_DATA:-$here/../shared/data}"
lfw="$data/lfw-deepfunneled"
orl="$data/orl_faces"
[ -x "$facerec" ] || { echo "finetune_eval.sh: $facerec not built" >&2; exit 1; }
[ -f "$lfw/pairsDevTest.txt" ] || { echo "finetune_eval.sh: LFW not found at $lfw (set FACEREC_DATA)" >&2; exit 1; }
[ -d "$orl/s1" ] || { echo "finetune_eval.sh: ORL not found at $orl (set FACEREC_DATA)" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# ---- the splits of the tuned runs (symbolic links to the photos) ----
if [ "$part" = tuned ] || [ "$part" = all ]; then
awk 'NF == 3 { print $1 } NF == 4 { print $1; print $3 }' "$lfw/pairsDevTest.txt" | sort -u >"$work/test_people"
mkdir -p "$work/lfw/train" "$work/lfw/val" "$work/lfw/small" "$work/orl/train" "$work/orl/val" "$work/orl/test"
i=0
for dir in "$lfw"/*/; do
  person="$(basename "$dir")"
  [ "$(ls "$dir" | wc -l)" -ge 2 ] || continue
  grep -qxF "$person" "$work/test_people" && continue
  if [ $((i % 8)) -eq 0 ]; then
    ln -s "$dir" "$work/lfw/val/$person"
  else
    ln -s "$dir" "$work/lfw/train/$person"
    if [ $((i % 4)) -eq 1 ]; then
      mkdir "$work/lfw/small/$person"
      for photo in $(ls "$dir" | head -n 4); do ln -s "$dir$photo" "$work/lfw/small/$person/$photo"; done
    fi
  fi
  i=$((i + 1))
done
for n in $(seq 1 40); do
  if [ "$n" -le 15 ]; then part=train; elif [ "$n" -le 20 ]; then part=val; else part=test; fi
  ln -s "$orl/s$n" "$work/orl/$part/s$n"
done
echo "finetune_eval.sh: LFW $(ls "$work/lfw/train" | wc -l) training people, $(ls "$work/lfw/val" | wc -l) for --val, $(ls "$work/lfw/small" | wc -l) in the --full subset" >&2
fi

field() { # json, name
  sed -n "s/.*\"$2\": \"\\{0,1\\}\\([^,\"}]*\\).*/\\1/p" <<<"$1" | head -n 1
}
pct() { awk -v x="$1" 'BEGIN { printf "%.2f", 100 * x }'; }

rows=()
# A row: label, data set (lfw|orl), base model, alignment ("" for the model's), training
# options for `facerec train` (mode, epochs, lr)...
row() {
  local label="$1" set="$2" model="$3" align="$4"; shift 4
  local align_args=() eval_before eval_after
  [ -n "$align" ] && align_args=(--align "$align")
  local out="$work/model_${#rows[@]}.frmodel" train_dir="$work/$set/train"
  [[ " $* " == *" --full "* && $set == lfw ]] && train_dir="$work/lfw/small"
  echo "finetune_eval.sh: $label ..." >&2
  local start=$SECONDS
  "$facerec" train --model "$model" "${align_args[@]}" --data "$train_dir" --val "$work/$set/val" \
    --out "$out" "$@" >"$work/train.log" 2>&1 || { tail -n 3 "$work/train.log" >&2; exit 1; }
  local seconds=$((SECONDS - start))
  local kept; kept="$(sed -n 's/^kept the [a-z]* of epoch \([0-9]*\).*/\1/p' "$work/train.log")"
  if [ "$set" = lfw ]; then
    eval_before="$("$facerec" eval lfw --dir "$lfw" --pairs "$lfw/pairsDevTest.txt" --model "$model" "${align_args[@]}" --json)"
    eval_after="$("$facerec" eval lfw --dir "$lfw" --pairs "$lfw/pairsDevTest.txt" --model "$out" "${align_args[@]}" --json)"
  else
    eval_before="$("$facerec" eval folder "$work/orl/test" --model "$model" "${align_args[@]}" --json)"
    eval_after="$("$facerec" eval folder "$work/orl/test" --model "$out" "${align_args[@]}" --json)"
  fi
  rows+=("| $label | \`--model $model${align:+ --align $align} $*\` | $(pct "$(field "$eval_before" accuracy)") | $(pct "$(field "$eval_after" accuracy)") | $(field "$eval_before" auc) | $(field "$eval_after" auc) | ${kept:-0} | $seconds s |")
}

if [ "$part" = tuned ] || [ "$part" = all ]; then
row "LFW, dlib-resnet, head" lfw dlib-resnet "" --head --epochs 10 --lr 1e-5
row "LFW, mobilefacenet, head" lfw mobilefacenet "" --head --epochs 10 --lr 1e-5
row "LFW, dlib-resnet fed the 112-pixel similarity warp, head" lfw dlib-resnet similarity --head --epochs 10 --lr 1e-4
row "LFW, the same mismatched crops, whole network" lfw dlib-resnet similarity --full --epochs 2 --lr 1e-5
row "ORL, dlib-resnet, head" orl dlib-resnet "" --head --epochs 10 --lr 1e-5
row "ORL, mobilefacenet, head" orl mobilefacenet "" --head --epochs 10 --lr 1e-5

echo "| held-out people | training | accuracy before % | after % | AUC before | AUC after | epoch kept (0: none better on --val) | training time |"
echo "|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
fi

# A row per condition: accuracy and AUC before (the base) and after (the trained model).
eval_pairs() { # dir pairs model
  "$facerec" eval lfw --dir "$1" --pairs "$2" --model "$3" --json
}

if [ "$part" = relit ] || [ "$part" = all ]; then
  echo "finetune_eval.sh: building the relit set ..." >&2
  "$facerec" eval relight --orl "$orl" --lfw "$lfw" --out "$work/relit" >&2
  for cond in unlit a00-20 a20-40 a40-60 a60-80; do
    for dir in "$work/relit/tune/$cond"/*/; do
      person="$(basename "$dir")"
      mkdir -p "$work/relit_train/$person"
      for photo in "$dir"*; do ln -s "$photo" "$work/relit_train/$person/${cond}_$(basename "$photo")"; done
    done
  done
  echo "finetune_eval.sh: training on the tune half ..." >&2
  start=$SECONDS
  "$facerec" train --data "$work/relit_train" --out "$work/relit.frmodel" >"$work/train.log" 2>&1 ||
    { tail -n 3 "$work/train.log" >&2; exit 1; }
  seconds=$((SECONDS - start))
  kept="$(sed -n 's/^kept the [a-z]* of epoch \([0-9]*\).*/\1/p' "$work/train.log")"
  # the whole network, on a subset: each person's first two photos in each of the two
  # hardest bands
  for dir in "$work/relit/tune/a40-60"/*/; do
    person="$(basename "$dir")"
    mkdir -p "$work/relit_full/$person"
    for cond in a40-60 a60-80; do
      for photo in $(ls "$work/relit/tune/$cond/$person" | head -n 2); do
        ln -s "$work/relit/tune/$cond/$person/$photo" "$work/relit_full/$person/${cond}_$photo"
      done
    done
  done
  echo "finetune_eval.sh: training MobileFaceNet whole on $(find "$work/relit_full" -name '*.*' | wc -l) photos ..." >&2
  full_args=(--full --model mobilefacenet --epochs 2 --augment 1)
  start=$SECONDS
  "$facerec" train "${full_args[@]}" --data "$work/relit_full" --out "$work/relit_full.frmodel" \
    >"$work/train.log" 2>&1 || { tail -n 3 "$work/train.log" >&2; exit 1; }
  full_seconds=$((SECONDS - start))
  full_kept="$(sed -n 's/^kept the [a-z]* of epoch \([0-9]*\).*/\1/p' "$work/train.log")"
  echo
  echo "Head: \`facerec train --data TUNE_HALF --out relit.frmodel\` (defaults; epoch $kept kept on the held-out fifth, $seconds s)."
  echo "Whole network: \`facerec train ${full_args[*]} --data SUBSET --out relit_full.frmodel\` (epoch $full_kept kept, $full_seconds s)."
  echo
  echo "| test half, condition | accuracy before % | head % | whole network % | AUC before | head | whole network |"
  echo "|---|---|---|---|---|---|---|"
  for cond in unlit a00-20 a20-40 a40-60 a60-80; do
    d="$work/relit/test/$cond"
    before="$(eval_pairs "$d" "$d/pairs.txt" mobilefacenet)"
    after="$(eval_pairs "$d" "$d/pairs.txt" "$work/relit.frmodel")"
    full="$(eval_pairs "$d" "$d/pairs.txt" "$work/relit_full.frmodel")"
    echo "| $cond | $(pct "$(field "$before" accuracy)") | $(pct "$(field "$after" accuracy)") | $(pct "$(field "$full" accuracy)") | $(field "$before" auc) | $(field "$after" auc) | $(field "$full" auc) |"
  done
fi

if [ "$part" = view2 ] || [ "$part" = all ]; then
  awk 'NF == 3 { print $1 } NF == 4 { print $1; print $3 }' "$lfw/pairs.txt" | sort -u >"$work/view2_people"
  # people with two photos or more
  find "$lfw" -mindepth 2 -maxdepth 2 -name '*.jpg' | awk -F/ '{ print $(NF - 1) }' | sort | uniq -c |
    awk '$1 >= 2 { print $2 }' >"$work/lfw_people"
  mkdir -p "$work/view2_train"
  for person in $(comm -23 "$work/lfw_people" "$work/view2_people"); do
    ln -s "$lfw/$person" "$work/view2_train/$person"
  done
  echo "finetune_eval.sh: training on the $(ls "$work/view2_train" | wc -l) LFW people absent from View 2 ..." >&2
  start=$SECONDS
  "$facerec" train --data "$work/view2_train" --out "$work/view2.frmodel" >"$work/train.log" 2>&1 ||
    { tail -n 3 "$work/train.log" >&2; exit 1; }
  seconds=$((SECONDS - start))
  kept="$(sed -n 's/^kept the [a-z]* of epoch \([0-9]*\).*/\1/p' "$work/train.log")"
  before="$("$facerec" eval lfw --dir "$lfw" --model mobilefacenet --json)"
  after="$("$facerec" eval lfw --dir "$lfw" --model "$work/view2.frmodel" --json)"
  echo
  echo "| LFW View 2 | training | accuracy before % | after % | AUC before | AUC after | epoch kept | training time |"
  echo "|---|---|---|---|---|---|---|---|"
  echo "| mobilefacenet, head on the $(ls "$work/view2_train" | wc -l) people absent from View 2 | defaults | $(pct "$(field "$before" accuracy)") | $(pct "$(field "$after" accuracy)") | $(field "$before" auc) | $(field "$after" auc) | ${kept:-none} | $seconds s |"
fi
