#!/usr/bin/env bash
# benchmarks.sh: run the accuracy evaluations, `facerec-bench` and python/bench.py, and write
# BENCHMARKS.md at the repository root from their output (the file is generated: edit this
# script instead).
#   scripts/benchmarks.sh [--quick] [--no-bench] [--no-serve] [--no-pg] [--no-finetune] [--speed-only] [BUILD_DIR]
#     BUILD_DIR   a Release build (default: build)
#     --quick     only the default pipeline, mobilefacenet alone and dlib-resnet's
#                 alignments, with and without flip, the default 1:N identification, and ORL
#                 (without: also other detectors, the choice of the fusion's weight and flip
#                 on View 1, and 1:N for each model alone)
#     --no-bench  leave out `facerec-bench` and python/bench.py
#     --no-serve  leave out the load benchmark of `facerec serve` (scripts/serve_bench.sh)
#     --no-pg     leave out servers over PostgreSQL (scripts/pg_bench.sh, at PG_BENCH_SIZE
#                 templates, default 100000: 1,000,000 takes hours to copy on 2 cores)
#     --no-finetune  leave out `facerec train`'s defaults on the relit set and on View 2
#                 (scripts/finetune_eval.sh relit and view2, about half an hour; also left
#                 out with --quick)
#     --speed-only  run `facerec-bench` only and replace the Speed section of the existing
#                 BENCHMARKS.md with its table (dated; the other sections stay as they were)
# Environment: FACEREC_DATA, the shared data folder (default: ../shared/data beside the
# repository); FACEREC_EVAL_CACHE, the embedding cache folder (default: the eval default).
# Rows whose configuration this build does not offer (e.g. a model not added yet) are listed
# as not available, with the reason.
set -uo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
quick=0; with_bench=1; with_serve=1; with_pg=1; with_finetune=1; speed_only=0; build="$here/build"
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    --no-bench) with_bench=0 ;;
    --no-serve) with_serve=0 ;;
    --no-finetune) with_finetune=0 ;;
    --speed-only) speed_only=1 ;;
    --no-pg) with_pg=0 ;;
    -*) echo "benchmarks.sh: unknown option $arg" >&2; exit 2 ;;
    *) build="$arg" ;;
  esac
done
facerec="$build/facerec"
bench="$build/facerec-bench"
data="${FACEREC_DATA:-$here/../shared/data}"
out="$here/BENCHMARKS.md"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

if [ ! -x "$facerec" ]; then
  echo "benchmarks.sh: $facerec not found: build first (cmake -S . -B build && cmake --build build)" >&2
  exit 1
fi
cache_args=()
[ -n "${FACEREC_EVAL_CACHE:-}" ] && cache_args=(--cache "$FACEREC_EVAL_CACHE")

# One JSON number or string of a flat object (jq is not assumed).
field() { # json, name
  sed -n "s/.*\"$2\": \"\\{0,1\\}\\([^,\"}]*\\).*/\\1/p" <<<"$1" | head -n 1
}
pct() { # fraction -> percent with 2 decimals ("" stays "")
  [ -n "$1" ] && [ "$1" != null ] && awk -v x="$1" 'BEGIN { printf "%.2f", 100 * x }'
}

verification_rows=()
identify_rows=()

# A verification row: label, data set name (for the command shown), eval arguments...
verify_row() {
  local label="$1" shown="$2"; shift 2
  local json status
  echo "benchmarks.sh: eval $* ..." >&2
  json="$("$facerec" eval "$@" "${cache_args[@]}" --json 2>"$tmp/err")"
  status=$?
  local cmd="facerec eval ${shown}"
  if [ $status -ne 0 ]; then
    verification_rows+=("| $label | \`$cmd\` | not available: $(tail -n 1 "$tmp/err" | sed 's/|/\\|/g') | | | | | | | |")
    return
  fi
  verification_rows+=("| $label | \`$cmd\` | $(pct "$(field "$json" accuracy)") ± $(pct "$(field "$json" accuracy_std)") | $(field "$json" threshold_mean) | $(field "$json" auc) | $(pct "$(field "$json" eer)") | $(pct "$(field "$json" tar_at_far_0.001)") | $(pct "$(field "$json" tar_at_far_0.0001)") | $(field "$json" no_face_images) / $(field "$json" no_face_pairs) | $(field "$json" computed) in $(field "$json" embed_seconds) s |")
}

identify_row() {
  local label="$1" shown="$2"; shift 2
  local json status
  echo "benchmarks.sh: eval $* ..." >&2
  json="$("$facerec" eval "$@" "${cache_args[@]}" --json 2>"$tmp/err")"
  status=$?
  local cmd="facerec eval ${shown}"
  if [ $status -ne 0 ]; then
    identify_rows+=("| $label | \`$cmd\` | not available: $(tail -n 1 "$tmp/err" | sed 's/|/\\|/g') | | | |")
    return
  fi
  identify_rows+=("| $label | \`$cmd\` | $(pct "$(field "$json" rank1)") | $(pct "$(field "$json" fnir)") | $(field "$json" threshold) | $(field "$json" enrolled) / $(field "$json" mated_probes) / $(field "$json" nonmated_probes) |")
}

# The Speed section's table alone: between its heading and the next heading (its
# subsections, e.g. conv_layers' tables with their notes, stay as they are).
if [ $speed_only = 1 ]; then
  if [ ! -x "$bench" ] || [ ! -f "$out" ]; then
    echo "benchmarks.sh: --speed-only needs $bench and an existing $out" >&2
    exit 1
  fi
  load="$(cut -d ' ' -f 1-3 /proc/loadavg)"
  echo "benchmarks.sh: bench ..." >&2
  bench_text="$("$bench" 2>&1)" || bench_text="(facerec-bench failed:)
$bench_text"
  {
    echo "## Speed (\`facerec-bench\`)"
    echo
    echo "Regenerated alone by \`scripts/benchmarks.sh --speed-only\` on $(date -u '+%Y-%m-%d %H:%M UTC') with"
    echo "facerec $("$facerec" --version | awk '{print $2}'), $(nproc) cores ($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1));"
    echo "CPU flags: $(grep -o -w -E 'avx2|fma|avx512f|avx512_vnni|avx_vnni|avx512_bf16' /proc/cpuinfo | sort -u | tr '\n' ' ')"
    echo "load average before the run (1, 5, 15 min; above the core count the figures are inflated): $load"
    echo
    echo '```'
    echo "$bench_text"
    echo '```'
    echo
  } >"$tmp/speed"
  awk -v speed="$tmp/speed" '
    /^## Speed/ { while ((getline line < speed) > 0) print line; skipping = 1; next }
    /^##/ && skipping { skipping = 0 }
    !skipping { print }' "$out" >"$tmp/out" && mv "$tmp/out" "$out"
  echo "benchmarks.sh: replaced the Speed section of $out" >&2
  exit 0
fi

lfw="$data/lfw-deepfunneled"
orl="$data/orl_faces"
have_lfw=0; [ -f "$lfw/pairs.txt" ] && have_lfw=1
have_orl=0; [ -d "$orl/s1" ] && have_orl=1

if [ $have_lfw = 1 ]; then
  L='--dir $DATA/lfw-deepfunneled'
  D='--detector ssd --model dlib-resnet'
  M='--model mobilefacenet'
  N='--no-flip'
  verify_row "default pipeline: mtcnn's 5 points, mobilefacenet 0.3 + dlib-resnet 0.7 fused, flip" "lfw $L" lfw --dir "$lfw"
  verify_row "default without flip" "lfw $L $N" lfw --dir "$lfw" $N
  verify_row "mobilefacenet alone (mtcnn, similarity warp), flip" "lfw $L $M" lfw --dir "$lfw" $M
  verify_row "mobilefacenet without flip" "lfw $L $M $N" lfw --dir "$lfw" $M $N
  verify_row "dlib-resnet with mtcnn's 5 points, dlib-chip, flip" "lfw $L --model dlib-resnet" lfw --dir "$lfw" --model dlib-resnet
  verify_row "dlib-resnet with mtcnn's 5 points without flip" "lfw $L --model dlib-resnet $N" lfw --dir "$lfw" --model dlib-resnet $N
  verify_row "dlib-resnet (ssd, 68 landmarks, dlib-chip), flip" "lfw $L $D" lfw --dir "$lfw" $D
  verify_row "dlib-resnet (ssd) without flip" "lfw $L $D $N" lfw --dir "$lfw" $D $N
  verify_row "dlib-resnet (ssd), face-api.js's crop, flip" "lfw $L $D --align faceapi" lfw --dir "$lfw" $D --align faceapi
  verify_row "dlib-resnet (ssd), face-api.js's crop without flip" "lfw $L $D --align faceapi $N" lfw --dir "$lfw" $D --align faceapi $N
  verify_row "dlib-resnet (ssd), similarity warp, flip" "lfw $L $D --align similarity" lfw --dir "$lfw" $D --align similarity
  identify_row "default (fusion, 0.3)" "identify $L" identify --dir "$lfw"
fi
fusion_text=""
if [ $have_lfw = 1 ] && [ $quick = 0 ]; then
  fusion_text=$("$here/scripts/fusion_weights.sh" "$build")
  verify_row "mobilefacenet, blazeface-full detector" "lfw $L $M --detector blazeface-full" lfw --dir "$lfw" $M --detector blazeface-full
  verify_row "mobilefacenet, ssd detector" "lfw $L $M --detector ssd" lfw --dir "$lfw" $M --detector ssd
  # margins and scale: the face smaller (more margin) or larger in each model's own warp
  for s in 0.92 1.08; do
    verify_row "dlib-resnet (mtcnn), dlib-chip at scale $s" "lfw $L --model dlib-resnet --align-scale $s" \
      lfw --dir "$lfw" --model dlib-resnet --align-scale $s
  done
  for s in 0.95 1.05; do
    verify_row "mobilefacenet, similarity warp at scale $s" "lfw $L $M --align-scale $s" \
      lfw --dir "$lfw" $M --align-scale $s
  done
  verify_row "fusion:0.12 (the largest View 1 AUC; the default before 0.5.0), flip" "lfw $L --model fusion:0.12" lfw --dir "$lfw" --model fusion:0.12
  verify_row "mobilefacenet, View 1 (DevTest, threshold on DevTrain)" "lfw $L $M --pairs \$DATA/lfw-deepfunneled/pairsDevTest.txt" \
    lfw --dir "$lfw" $M --pairs "$lfw/pairsDevTest.txt"
  verify_row "default, View 1 (DevTest, threshold on DevTrain)" "lfw $L --pairs \$DATA/lfw-deepfunneled/pairsDevTest.txt" \
    lfw --dir "$lfw" --pairs "$lfw/pairsDevTest.txt"
  # The fusion's weight and flip are chosen here, on View 1's training pairs: the largest AUC.
  # (Their accuracy takes its threshold from pairsDevTest.txt, and only the AUC matters.)
  T="--pairs \$DATA/lfw-deepfunneled/pairsDevTrain.txt --train \$DATA/lfw-deepfunneled/pairsDevTest.txt"
  for w in 0.05 0.08 0.1 0.12 0.15 0.2 0.25 0.3 0.4 0.5 0.7 0.9; do
    verify_row "View 1 training pairs, fusion:$w, flip" "lfw $L $T --model fusion:$w" \
      lfw --dir "$lfw" --pairs "$lfw/pairsDevTrain.txt" --train "$lfw/pairsDevTest.txt" --model "fusion:$w"
  done
  for w in 0.1 0.12 0.15 0.2 0.3; do
    verify_row "View 1 training pairs, fusion:$w without flip" "lfw $L $T --model fusion:$w $N" \
      lfw --dir "$lfw" --pairs "$lfw/pairsDevTrain.txt" --train "$lfw/pairsDevTest.txt" --model "fusion:$w" $N
  done
  identify_row "fusion:0.12 (the default before 0.5.0)" "identify $L --model fusion:0.12" identify --dir "$lfw" --model fusion:0.12
  identify_row "dlib-resnet" "identify $L $D" identify --dir "$lfw" $D
  identify_row "mobilefacenet" "identify $L $M" identify --dir "$lfw" $M
fi
if [ $have_orl = 1 ]; then
  verify_row "ORL, default" 'folder $DATA/orl_faces' folder "$orl"
  verify_row "ORL, mobilefacenet" 'folder $DATA/orl_faces --model mobilefacenet' folder "$orl" --model mobilefacenet
fi

layers_text=""
if [ $with_bench = 1 ] && [ -x "$build/conv_layers" ]; then
  echo "benchmarks.sh: conv_layers ..." >&2
  layers_text="$("$build/conv_layers" 2>&1; echo; FACEREC_ISA=avx2 ONEDNN_MAX_CPU_ISA=AVX2 "$build/conv_layers" 2>&1)"
fi
bench_text=""
if [ $with_bench = 1 ] && [ -x "$bench" ]; then
  echo "benchmarks.sh: bench ..." >&2
  bench_text="$("$bench" 2>&1)" || bench_text="(facerec-bench failed:)
$bench_text"
fi
python_text=""
if [ $with_bench = 1 ]; then
  echo "benchmarks.sh: python/bench.py ..." >&2
  python_text="$(FACEREC_LIBRARY="$build/libfacerec.so" /usr/bin/python3 "$here/python/bench.py" \
                 --facerec "$facerec" --markdown 2>&1)" || python_text="(python/bench.py failed:)
$python_text"
fi

finetune_text=
if [ $with_finetune = 1 ] && [ $quick = 0 ]; then
  for part in relit view2; do
    echo "benchmarks.sh: finetune_eval.sh $part ..." >&2
    text="$(FACEREC_DATA="$data" "$here/scripts/finetune_eval.sh" "$build" "$part" 2>"$tmp/err")" ||
      text="(finetune_eval.sh $part failed: $(tail -n 3 "$tmp/err"))"
    finetune_text="$finetune_text$text
"
  done
fi

serve_text=
if [ $with_serve = 1 ] && command -v wrk >/dev/null; then
  echo "benchmarks.sh: serve_bench ..." >&2
  serve_text="$("$here/scripts/serve_bench.sh" 2>&1)" || serve_text="(serve_bench.sh failed:)
$serve_text"
fi

pg_text=
if [ $with_pg = 1 ] && command -v wrk >/dev/null && [ -x /usr/lib/postgresql/15/bin/initdb ]; then
  echo "benchmarks.sh: pg_bench ..." >&2
  pg_text="$("$here/scripts/pg_bench.sh" "${PG_BENCH_SIZE:-100000}" 2>/dev/null)" || pg_text="(pg_bench.sh failed:)
$pg_text"
fi

{
  echo "# Benchmarks"
  echo
  echo "Generated by \`scripts/benchmarks.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC') with facerec $("$facerec" --version | awk '{print $2}'),"
  echo "$(nproc) cores ($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)). Do not edit by hand: run the script."
  echo "\`\$DATA\` is the shared data folder. Embeddings come from the cache where present (\"computed\" counts the images"
  echo "embedded by this run, and its time)."
  echo
  echo "## Verification"
  echo
  if [ $have_lfw = 1 ]; then
    echo "LFW View 2 (\`pairs.txt\`): 10 folds of 600 pairs, each fold's threshold chosen on the other nine;"
    echo "accuracy is the mean over the folds ± their standard deviation. AUC, EER and TAR are over all 6,000"
    echo "pairs with one threshold; with 3,000 impostor pairs, TAR at FAR 0.01% means no false accept at all."
    echo "The face is the detection nearest the image centre; \"no face\" counts images where none was"
    echo "detected (the image centre is used instead) and the pairs they are in. dlib's published figure"
    echo "for its ResNet model is 99.38%. Every embedding is the mean of the face's and its mirror image's"
    echo "(flip) unless the command says \`--no-flip\`."
    echo
    echo "The flip was chosen on View 1's training pairs (\`pairsDevTrain.txt\`, the rows \"View 1 training"
    echo "pairs\"): the larger AUC. The fused model's weight by the rule of \"Choosing the fusion weight\""
    echo "below (View 1's training pairs and half of LFW's people in 1:N search)."
    echo "The default threshold is the most accurate one"
    echo "on the same pairs (the \"default, View 1\" row shows it, tested on \`pairsDevTest.txt\`). View 2 chose nothing."
  else
    echo "LFW not found: the shared data folder (\$FACEREC_DATA, default ../shared/data beside the repository)"
    echo "is absent or lacks lfw-deepfunneled; the LFW rows are skipped."
  fi
  [ $have_orl = 1 ] || echo "ORL not found in the shared data folder; its row is skipped."
  echo
  if [ ${#verification_rows[@]} -gt 0 ]; then
    echo "| configuration | command | accuracy % | mean threshold | AUC | EER % | TAR@FAR 0.1% | TAR@FAR 0.01% | no face (images / pairs) | embedded |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${verification_rows[@]}"
    echo
  fi
  if [ ${#identify_rows[@]} -gt 0 ]; then
    echo "## Open-set identification (LFW, 1:N)"
    echo
    echo "The first image of each of the people with two or more images is enrolled; their other images"
    echo "are mated probes, and every image of the people with one image a non-mated probe."
    echo
    echo "| configuration | command | rank-1 % | FNIR at FPIR 1% | threshold | enrolled / mated / non-mated |"
    echo "|---|---|---|---|---|---|"
    printf '%s\n' "${identify_rows[@]}"
    echo
  fi
  if [ -n "$fusion_text" ]; then
    echo "## Choosing the fusion weight (1:1 and 1:N together)"
    echo
    echo "\`scripts/fusion_weights.sh\` (figures from \`facerec eval lfw\` and \`facerec eval identify\`; the"
    echo "halves split LFW's people by the SHA-256 of their names, \`--split A|B\`). The rule: among the"
    echo "weights whose AUC on View 1's training pairs is within one bootstrap standard error of the best,"
    echo "the lowest FNIR at FPIR 1% on half A. Half B and all of LFW report; View 2 (above) chose nothing."
    echo "Gallery-cohort normalisation (the distance less W times the matched template's mean distance to"
    echo "its 10 nearest other templates, \`--cohort-norm W\`) is measured at the chosen weight."
    echo
    echo "$fusion_text"
    echo
  fi
  echo "## Fine-tuning (\`facerec train\` with its defaults, \`scripts/finetune_eval.sh\`)"
  echo
  if [ -n "$finetune_text" ]; then
    echo "On people never seen in training. The relit set (\`facerec eval relight\`, seed 16): the head"
    echo "trains on the tune half's people (every condition), each light band of the test half is measured"
    echo "on its pairs.txt, before (mobilefacenet, the head's base) and after. LFW: the head trains on the"
    echo "LFW people with two photos or more absent from View 2, and View 2 is measured before and after."
    echo "$finetune_text"
  else
    echo "Left out (run without --quick and --no-finetune)."
  fi
  echo
  echo "## Speed (\`facerec-bench\`)"
  echo
  if [ -n "$bench_text" ]; then
    echo '```'
    echo "$bench_text"
    echo '```'
  elif [ $with_bench = 0 ]; then
    echo "Left out (run without --no-bench)."
  else
    echo "This build has no \`facerec-bench\` program ($bench)."
  fi
  echo
  if [ -n "$layers_text" ]; then
    echo "### Convolutions per layer and path (\`conv_layers\`, and \`FACEREC_ISA=avx2 ONEDNN_MAX_CPU_ISA=AVX2 conv_layers\`)"
    echo
    echo "Each layer shape (dlib-resnet's; nn4.small2's 3x3 stride-1 ones; MobileFaceNet's, \"mfn\":"
    echo "depthwise \"dw\", pointwise \"pw\" Cin>Cout at the input size) on 1 thread through our direct"
    echo "path (im2col + our GEMM, none for 1x1; depthwise by nn_depthwise_conv2d), Winograd F(2,3)"
    echo "(with its largest difference from the direct path, relative to the output's largest value),"
    echo "our GEMM alone and OpenBLAS's sgemm alone on the same matrices (the im2col product), and"
    echo "oneDNN 2.6 (Debian's, the library PyTorch's CPU convolutions use; 1 OpenMP thread):"
    echo "algorithm auto on our NHWC activations with the weights reordered once into its layout and"
    echo "ReLU fused, and its Winograd (\"oneDNN wg\"), which it implements only on its blocked"
    echo "activation layout and only with AVX-512 (activations reordered outside the timing)."
    echo "nn_conv2d takes Winograd for 3x3 stride 1 from 24 tiles (2x2 output pixels each) up, where"
    echo "it is the faster path. The sums at the end count each layer as often as its network has it."
    echo "The second table caps both libraries at AVX2."
    echo
    echo '```'
    echo "$layers_text"
    echo '```'
    echo
  fi
  echo "## Python binding (\`python/bench.py\`)"
  echo
  if [ -n "$python_text" ]; then
    echo "The same photos (face-api's six demo photos, 1920x1280) through the C library (one bare ctypes"
    echo "call), the \`facerec\` Python package and the \`facerec\` command (per photo, start-up taken out;"
    echo "it also decodes the JPEG and prints JSON). The overhead is the median difference between"
    echo "a Python call and the C call beside it: below the machine's noise on real photos."
    echo
    echo "$python_text"
  else
    echo "Left out (run without --no-bench)."
  fi
  echo
  echo "## HTTP service (\`facerec serve\`, \`scripts/serve_bench.sh\`)"
  echo
  if [ -n "$serve_text" ]; then
    echo "\`POST /api/identify\` of one face photo (a crop of the face-api demo's sample1) with wrk, against"
    echo "galleries of synthetic people (random unit vectors, so every search runs over the whole"
    echo "gallery and the probe is a stranger); each row a wrk run at that many connections. Memory:"
    echo "the server's resident set after 1,000 and after 10,000 such requests."
    echo
    echo "$serve_text"
  else
    echo "Left out (run without --no-serve, with wrk installed: scripts/setup.sh --bench)."
  fi
  echo
  echo "## Several servers over one PostgreSQL gallery (\`scripts/pg_bench.sh\`)"
  echo
  if [ -n "$pg_text" ]; then
    echo "A gallery of synthetic people (one random unit vector each) made in SQLite and copied into a"
    echo "throwaway PostgreSQL 15 cluster (\`facerec gallery copy\`); servers started on it cold (the"
    echo "networks, then every template read into the index); \`POST /api/identify\` of one face crop"
    echo "with wrk, on PostgreSQL and on the same gallery in SQLite; one server, then two sharing the"
    echo "database, with the CPU time each request cost the servers (user + system), from which the"
    echo "throughput on more cores follows (cores x 1000 / CPU ms per request, per server, until the"
    echo "search or the database bounds it); then 100 enrollments through server A, each timed until"
    echo "identification through server B names the new person (within one identification's time,"
    echo "the resolution). Wall times depend on what else the machine runs: the load average is given."
    echo "Two servers on one machine share its cores, so they cannot answer more than one server does:"
    echo "the gain from a second server comes from a second machine (or more cores), by the CPU ms per request."
    echo "Run at 100,000 templates (\`PG_BENCH_SIZE\`, the default); \`scripts/pg_bench.sh 1000000\` runs the"
    echo "same at a million, which on this shared 2-core machine was not run: making the SQLite gallery"
    echo "and copying it into PostgreSQL (at the rates above) take over 40 minutes before any figure."
    echo
    echo "$pg_text"
  else
    echo "Left out (run without --no-pg, with wrk and PostgreSQL 15 installed: scripts/setup.sh --bench)."
  fi
} >"$out"
echo "benchmarks.sh: wrote $out" >&2
