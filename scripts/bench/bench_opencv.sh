#!/usr/bin/env bash
# One-core images/s of zoorepro's OpenCV presets (mlperf-resnet50, mlperf-mobilenet) against
# opencv-python-headless running MLPerf Inference's dataset.py preprocessing on the same JPEG files
# (default: the 100 images of ../shared/imagenet-sample). Everything runs pinned to one CPU
# (taskset -c ${BENCH_CPU:-0}); OpenCV with cv2.setNumThreads(1), zoorepro with
# RAYON_NUM_THREADS=1. Arguments go to bench_opencv.py (--files GLOB, --presets LIST, --repeat N,
# --bin PATH).
#
# Python: $ZOOREPRO_CV_PYTHON, else /work/venv-opencv/bin/python (a venv with
# opencv-python-headless from scripts/requirements-protocols.txt installed). Builds zoorepro and
# examples/preprocess_throughput first.
set -euo pipefail
repo="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)"
python="${ZOOREPRO_CV_PYTHON:-/work/venv-opencv/bin/python}"
if [[ ! -x "$python" ]]; then
    echo "bench_opencv.sh: no Python at $python (set ZOOREPRO_CV_PYTHON to a venv with opencv-python-headless)" >&2
    exit 2
fi
(cd "$repo" && cargo build --release --bin zoorepro --example preprocess_throughput >&2)
exec taskset -c "${BENCH_CPU:-0}" "$python" "$repo/scripts/bench/bench_opencv.py" "$@"
