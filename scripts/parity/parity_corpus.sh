#!/usr/bin/env bash
# Issue 18's JPEG corpus check: for every file of tests/jpeg-corpus/files (the public corpus)
# and tests/jpeg-corpus/made (generated cases) and every preset, zoorepro must accept exactly
# what Pillow 13.0.0 accepts, with bit-identical tensors, also in one shuffled call per preset.
# Details: scripts/parity/parity_corpus.py (arguments are passed on: --files, --presets, --jobs N,
# --seed N, --json FILE, --timeout S ...). Exit status 0 only when there is no disagreement.
#
# Python: $ZOOREPRO_PYTHON, else .venv/bin/python of this repository (Pillow 13.0.0, NumPy).
# Binary: $ZOOREPRO_BIN, else $CARGO_TARGET_DIR/release/zoorepro, else target/release/zoorepro
# (build it first: cargo build --release).
set -euo pipefail
# readlink -f: also right when run through the symlink at the old path (scripts/<name>.sh).
repo="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)"

python="${ZOOREPRO_PYTHON:-$repo/.venv/bin/python}"
if [[ -n "${ZOOREPRO_BIN:-}" ]]; then
    bin="$ZOOREPRO_BIN"
elif [[ -n "${CARGO_TARGET_DIR:-}" ]]; then
    bin="$CARGO_TARGET_DIR/release/zoorepro"
else
    bin="$repo/target/release/zoorepro"
fi

if [[ ! -x "$python" ]]; then
    echo "parity_corpus.sh: no Python at $python (run scripts/setup.sh or set ZOOREPRO_PYTHON)" >&2
    exit 2
fi
if [[ ! -x "$bin" ]]; then
    echo "parity_corpus.sh: no zoorepro binary at $bin (cargo build --release, or set ZOOREPRO_BIN)" >&2
    exit 2
fi
exec "$python" "$repo/scripts/parity/parity_corpus.py" --bin "$bin" "$@"
