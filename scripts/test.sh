#!/usr/bin/env bash
# Sets up everything (scripts/setup.sh), checks formatting, lints and the declared rust-version,
# and runs the whole test suite: unit tests, integration tests driving the real binary on
# ../shared (real JPEGs, real ONNX models, the real ONNX Runtime), the bit-exact parity harness,
# and the JPEG and non-JPEG corpus checks against Pillow (scripts/parity/parity_corpus.sh,
# parity_nonjpeg.sh). Tests that need ../shared skip themselves when it is absent, and fail
# instead under CI=true.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
bash scripts/setup.sh
export ZOOREPRO_PYTHON="$repo/.venv/bin/python"

# Style and lints first: a red one fails in seconds, before the long build.
cargo fmt --check
# Every relative link and #anchor of the Markdown docs resolves (stdlib Python, a second).
python3 scripts/check_links.py
cargo clippy --release --locked --all-targets -- -D warnings
# The declared rust-version must really build (rustup fetches that toolchain once).
msrv="$(sed -n 's/^rust-version = "\(.*\)"$/\1/p' Cargo.toml)"
rustup toolchain install "$msrv" --profile minimal --no-self-update >/dev/null
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}/msrv" cargo "+$msrv" check --locked --all-targets

# Release profile: the integration tests push hundreds of real images through the binary.
cargo test --release --locked "$@"
# Issue 18's yardstick: every JPEG of tests/jpeg-corpus accepted, refused and decoded as Pillow 13 does.
bash scripts/parity/parity_corpus.sh --jobs 2
# Issue 35 item 11: PNG, TIFF, GIF, BMP and WebP of tests/nonjpeg-corpus accepted, refused and
# decoded as Pillow 13 does (known-unsupported.tsv lists the clean refusals); about 25 s.
bash scripts/parity/parity_nonjpeg.sh --jobs 2
