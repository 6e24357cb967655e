#!/usr/bin/env bash
# One-core images/s of zoorepro's torchvision-tensor preset against torch + torchvision on CPU,
# on the same JPEG files (default: the 100 images of ../shared/imagenet-sample). Everything runs
# pinned to one CPU (taskset -c ${BENCH_CPU:-0}); torch with set_num_threads(1), zoorepro with
# RAYON_NUM_THREADS=1. Arguments go to bench_torchvision.py (--files GLOB, --repeat N, --bin PATH).
#
# Python: $ZOOREPRO_TORCH_PYTHON, else /work/venv-torch/bin/python (a venv with torch and
# torchvision as pinned in scripts/requirements-protocols.txt). Builds zoorepro and
# examples/preprocess_throughput first.
set -euo pipefail
repo="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)"
python="${ZOOREPRO_TORCH_PYTHON:-/work/venv-torch/bin/python}"
if [[ ! -x "$python" ]]; then
    echo "bench_torchvision.sh: no Python at $python (set ZOOREPRO_TORCH_PYTHON to a venv with torch and torchvision)" >&2
    exit 2
fi
(cd "$repo" && cargo build --release --bin zoorepro --example preprocess_throughput >&2)
exec taskset -c "${BENCH_CPU:-0}" "$python" "$repo/scripts/bench/bench_torchvision.py" "$@"
