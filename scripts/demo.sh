#!/usr/bin/env bash
# Sets up, builds, and verifies the bundled demo model on the bundled demo images (30 ImageNet
# validation JPEGs): the quickest way to see zoorepro work end to end.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
bash scripts/setup.sh
cargo build --release --locked
exec "${CARGO_TARGET_DIR:-$repo/target}/release/zoorepro" verify --model coral/mobilenet_v2_1.0_224_quant --val demo "$@"
