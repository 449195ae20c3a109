#!/bin/sh
# calibrations.sh: remake the LFW calibrations shipped in data/calibration, one file per
# pretrained embedding model (with its default alignment) and one for the fused model;
# galleries without a calibration of their own read their thresholds from them.
#   scripts/calibrations.sh [BUILD_DIR]
#     BUILD_DIR   holds the facerec binary (default: build; a Release build is much faster)
# Environment: FACEREC_DATA, the shared data folder holding lfw-deepfunneled (default:
# ../shared/data beside the repository). Every photo of every person is embedded (about
# 13k), a few minutes per model.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
facerec=${1:-$here/build}/facerec
lfw=${FACEREC_DATA:-$here/../shared/data}/lfw-deepfunneled
[ -x "$facerec" ] || { echo "calibrations.sh: $facerec not built" >&2; exit 1; }
[ -d "$lfw" ] || { echo "calibrations.sh: LFW not found at $lfw (set FACEREC_DATA)" >&2; exit 1; }
mkdir -p "$here/data/calibration"
for model in dlib-resnet mobilefacenet fusion; do
    "$facerec" calibrate --model "$model" --dir "$lfw" --source LFW \
        --export "$here/data/calibration/$model.txt"
done
