#!/usr/bin/env bash
# Sets up everything (scripts/setup.sh) and runs the whole test suite: unit tests, integration
# tests driving the real binary on ../shared (real JPEGs, real ONNX models, the real ONNX Runtime),
# the bit-exact parity harness, and the JPEG corpus check against Pillow (scripts/parity_corpus.sh). Tests that need ../shared skip themselves when it is absent.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
bash scripts/setup.sh
export ZOOREPRO_PYTHON="$repo/.venv/bin/python"
# Release profile: the integration tests push hundreds of real images through the binary.
cargo test --release --locked "$@"
# Issue 18's yardstick: every JPEG of tests/jpeg-corpus accepted, refused and decoded as Pillow 13 does.
bash scripts/parity_corpus.sh --jobs 2
