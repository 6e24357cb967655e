#!/usr/bin/env bash
# Builds the Python wheel (pyproject.toml): the `zoorepro` CLI as a console script and
# `import zoorepro`, from src/python.rs (cargo feature `python`) and python/zoorepro/.
#
#   scripts/build_wheel.sh [--zig] [OUT_DIR]      (OUT_DIR default: target/wheels)
#
# maturin (and ziglang, for --zig) come from PyPI into a venv outside the checkout,
# $ZOOREPRO_MATURIN_VENV (default ~/.cache/zoorepro/maturin-venv). Without --zig the tag follows
# this machine's glibc (Debian 12: manylinux_2_34). --zig asks maturin to link with zig for glibc
# 2.17 (manylinux2014), a full rebuild with zig cc for the C parts; not yet tried. libjpeg-turbo (turbojpeg-sys), the libjpeg glue and SQLite are linked in;
# ONNX Runtime is not: the wheel depends on the pinned `onnxruntime` wheel and loads its library.
# Prints the wheel's path and its `auditwheel show` (auditwheel from PyPI, same venv).
set -euo pipefail
repo="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
zig=0
if [ "${1:-}" = "--zig" ]; then zig=1; shift; fi
out="$(realpath -m "${1:-$repo/target/wheels}")"
venv="${ZOOREPRO_MATURIN_VENV:-$HOME/.cache/zoorepro/maturin-venv}"

if [ ! -x "$venv/bin/maturin" ] || [ ! -x "$venv/bin/auditwheel" ] || [ ! -x "$venv/bin/python-zig" ]; then
  echo "build_wheel: installing maturin, ziglang and auditwheel into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check maturin==1.16.0 ziglang==0.17.1 auditwheel==6.8.2
fi

args=(build --release --manifest-path "$repo/Cargo.toml" -o "$out")
if [ "$zig" = 1 ]; then
  args+=(--zig --compatibility manylinux2014)
fi
rm -f "$out"/zoorepro-*.whl
# maturin finds zig through the ziglang package of its own venv (python -m ziglang).
PATH="$venv/bin:$PATH" nice -n 10 "$venv/bin/maturin" "${args[@]}" >&2
wheel="$(ls "$out"/zoorepro-*.whl)"
"$venv/bin/auditwheel" show "$wheel" >&2
echo "$wheel"
