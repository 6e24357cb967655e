#!/usr/bin/env bash
# One-core images/s of zoorepro's TensorFlow presets (tf-inception-299, tf-inception-224) against
# tensorflow-cpu on the same JPEG files (default: the 100 images of ../shared/imagenet-sample).
# Everything runs pinned to one CPU (taskset -c ${BENCH_CPU:-0}); TensorFlow with intra/inter-op
# threads = 1, zoorepro with RAYON_NUM_THREADS=1. Arguments go to bench_tensorflow.py
# (--files GLOB, --presets LIST, --repeat N, --bin PATH).
#
# Python: $ZOOREPRO_TF_PYTHON, else /work/venv-protocols/bin/python (a venv with
# scripts/requirements-protocols.txt installed). Builds zoorepro and examples/preprocess_throughput first.
set -euo pipefail
repo="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)"
python="${ZOOREPRO_TF_PYTHON:-/work/venv-protocols/bin/python}"
if [[ ! -x "$python" ]]; then
    echo "bench_tensorflow.sh: no Python at $python (set ZOOREPRO_TF_PYTHON to a venv with scripts/requirements-protocols.txt)" >&2
    exit 2
fi
(cd "$repo" && cargo build --release --bin zoorepro --example preprocess_throughput >&2)
exec taskset -c "${BENCH_CPU:-0}" "$python" "$repo/scripts/bench/bench_tensorflow.py" "$@"
