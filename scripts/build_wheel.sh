#!/usr/bin/env bash
# Builds the Python wheel (pyproject.toml): the `zoorepro` CLI as a console script and
# `import zoorepro`, from src/python.rs (cargo feature `python`) and python/zoorepro/.
#
#   scripts/build_wheel.sh [--zig] [OUT_DIR]      (OUT_DIR default: target/wheels)
#
# maturin and auditwheel (and ziglang, for --zig) come from PyPI into a venv outside the checkout,
# $ZOOREPRO_MATURIN_VENV (default ~/.cache/zoorepro/maturin-venv).
#
# Without --zig the tag follows this machine's glibc (Debian 12: manylinux_2_34) and the build
# shares the target folder and release profile of `cargo test --release`, so only zoorepro itself
# and pyo3 are compiled again (what CI's stage `wheel` does). --zig is the release build:
# maturin links with zig for glibc 2.17 and cargo-zigbuild's CMake toolchain file makes CMake use
# zig cc too, so libjpeg-turbo (turbojpeg-sys, nasm for its SIMD), the libjpeg glue (build.rs,
# cc) and SQLite (libsqlite3-sys) are all compiled against glibc 2.17's symbols: the wheel is
# manylinux2014 (manylinux_2_17_x86_64; auditwheel 6.8.2 show: libc, libm, libpthread, libdl,
# nothing newer than GLIBC_2.17). It is a full build of its own (zig cc, `--target` given), in
# $CARGO_TARGET_DIR/zig, so the ordinary target folder stays valid: 21 min wall on 2 cores at
# load average 11 (the native wheel after `cargo test --release`: see scripts/test.sh's stage).
# ONNX Runtime is not linked: the wheel depends on the pinned `onnxruntime` wheel and loads its
# library. The extension is stripped (pyproject.toml's [tool.maturin] strip: `-C strip=symbols`
# on its own link, so the dependencies stay those of `cargo test --release`): 12.3 MB, 72.1 MB
# with the debug information of the release profile and the standard library. Prints
# `auditwheel show` for the wheel, then its path (the last line).
set -euo pipefail
repo="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
zig=0
if [ "${1:-}" = "--zig" ]; then zig=1; shift; fi
out="$(realpath -m "${1:-$repo/target/wheels}")"
venv="${ZOOREPRO_MATURIN_VENV:-$HOME/.cache/zoorepro/maturin-venv}"

tools=()
[ -x "$venv/bin/maturin" ] || tools+=(maturin==1.16.0)
[ -x "$venv/bin/auditwheel" ] || tools+=(auditwheel==6.8.2)
[ "$zig" = 0 ] || [ -x "$venv/bin/python-zig" ] || tools+=(ziglang==0.17.1)
if [ ${#tools[@]} -gt 0 ]; then
  echo "build_wheel: installing ${tools[*]} into $venv" >&2
  [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "${tools[@]}"
fi

args=(build --release --locked --manifest-path "$repo/Cargo.toml" -o "$out")
if [ "$zig" = 1 ]; then
  args+=(--zig --compatibility manylinux2014)
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}/zig"
fi
rm -f "$out"/zoorepro-*.whl
# maturin finds zig through the ziglang package of its own venv (python -m ziglang).
PATH="$venv/bin:$PATH" nice -n 10 "$venv/bin/maturin" "${args[@]}" >&2
wheel="$(ls "$out"/zoorepro-*.whl)"
"$venv/bin/auditwheel" show "$wheel" >&2
echo "$wheel"
