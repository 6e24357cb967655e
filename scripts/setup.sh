#!/usr/bin/env bash
# Installs everything zoorepro needs to build, run and test on Debian/Ubuntu:
#   - nasm + cmake (the turbojpeg crate builds its bundled libjpeg-turbo with them),
#   - a Python venv (.venv) with the oracle's exact versions (Pillow, NumPy, onnxruntime),
#   - the ONNX Runtime shared library from that onnxruntime wheel, copied where zoorepro looks for it.
# Idempotent: re-running it only checks what is already there.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ort_version="1.32.0"
data_home="${XDG_DATA_HOME:-$HOME/.local/share}"
ort_dir="${ZOOREPRO_ORT_DIR:-$data_home/zoorepro/onnxruntime-$ort_version}"

need_apt=()
command -v nasm >/dev/null 2>&1 || need_apt+=(nasm)
command -v cmake >/dev/null 2>&1 || need_apt+=(cmake)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]} (apt)" >&2
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ ! -x "$repo/.venv/bin/python" ]; then
  echo "setup: creating $repo/.venv" >&2
  python3 -m venv "$repo/.venv"
fi
"$repo/.venv/bin/python" -m pip install -q --disable-pip-version-check -r "$repo/scripts/requirements.txt"

lib_src="$("$repo/.venv/bin/python" - <<'PY'
import glob, os, onnxruntime
capi = os.path.join(os.path.dirname(onnxruntime.__file__), "capi")
libs = sorted(glob.glob(os.path.join(capi, "libonnxruntime.so*")))
print(libs[-1] if libs else "")
PY
)"
if [ -z "$lib_src" ]; then
  echo "setup: the onnxruntime wheel has no libonnxruntime.so" >&2
  exit 1
fi
mkdir -p "$ort_dir"
cp -f "$lib_src" "$ort_dir/libonnxruntime.so"
echo "setup: ONNX Runtime $ort_version library at $ort_dir/libonnxruntime.so" >&2
