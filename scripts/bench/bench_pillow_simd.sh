#!/usr/bin/env bash
# One-core images/s of `--pillow-compat simd` against Pillow-SIMD 12.1.1.post0 itself, on the
# same JPEG files (default: the 100 images of ../shared/imagenet-sample). Everything runs
# pinned to one CPU (taskset -c ${BENCH_CPU:-0}); zoorepro with RAYON_NUM_THREADS=1.
# Arguments go to bench_pillow_simd.py (--files GLOB, --presets LIST, --repeat N, --bin PATH).
#
# Python: $ZOOREPRO_SIMD_PYTHON, else /work/venv-simd/bin/python (a venv with pillow-simd built
# from its sdist as scripts/requirements-protocols.txt says). Builds zoorepro and
# examples/preprocess_throughput first.
set -euo pipefail
repo="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)"
python="${ZOOREPRO_SIMD_PYTHON:-/work/venv-simd/bin/python}"
if [[ ! -x "$python" ]]; then
    echo "bench_pillow_simd.sh: no Python at $python (set ZOOREPRO_SIMD_PYTHON to a venv with pillow-simd)" >&2
    exit 2
fi
(cd "$repo" && cargo build --release --bin zoorepro --example preprocess_throughput >&2)
exec taskset -c "${BENCH_CPU:-0}" "$python" "$repo/scripts/bench/bench_pillow_simd.py" "$@"
