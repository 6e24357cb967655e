#!/usr/bin/env bash
# The wheel as a Python user gets it: builds it (scripts/build_wheel.sh), installs it into a fresh
# venv with nothing else from the checkout (its dependencies, onnxruntime and numpy, from PyPI),
# and runs it from a folder outside the checkout with `cargo` and `rustc` off PATH and no zoorepro
# or ONNX Runtime variable set. Checks:
#   - `zoorepro --version` is the crate's version; a value out of range exits 2 with one line;
#   - `cargo` and `rustc` are not found from inside the check (`command -v` fails there);
#   - `zoorepro verify` from the wheel reproduces the shared sample's counts (MODELS.md:
#     coral/mobilenet_v2_1.0_224_quant 72/93 of 100) with ONNX Runtime from the onnxruntime wheel,
#     found with no variable set, and its record names the `zoorepro` script as the command, not
#     the Python interpreter that runs it;
#   - `zoorepro.preprocess` (a path and the bytes) equals the `.npy` of `zoorepro preprocess` in
#     shape, dtype and bytes for every preset (`zoorepro recipes`: the Pillow, TensorFlow, OpenCV
#     and torch pipelines) and for --pillow-compat 12 and simd; a bad recipe or image raises
#     zoorepro.Error with the CLI's message;
#   - in a second venv with the wheel but without its onnxruntime dependency, `verify` exits 2
#     with one line naming `pip install onnxruntime==PIN` (PIN: pyproject.toml's);
#   - the extension (.so) is under 24 MB: stripped of its debug information (pyproject.toml's
#     [tool.maturin] strip), it was 12.3 MB on 2026-12-07, 72.1 MB with it.
#
#   scripts/test_wheel.sh [--zig] [--wheel FILE]      (--wheel: test that wheel, build nothing)
#
# scripts/test.sh runs it as its stage `wheel` (CI), after the tests' release build, whose
# dependencies the wheel's build reuses (same target folder and profile).
set -euo pipefail
repo="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
shared="$(realpath "${ZOOREPRO_SHARED:-$repo/../shared}")"
build_args=() wheel=""
while [ $# -gt 0 ]; do
  case "$1" in
    --zig) build_args+=(--zig) ;;
    --wheel) wheel="$(realpath "$2")"; shift ;;
    *) echo "test_wheel: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$wheel" ] || wheel="$("$repo/scripts/build_wheel.sh" "${build_args[@]}" | tail -1)"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/Cargo.toml" | head -1)"
so_bytes="$(python3 -c 'import sys, zipfile
print(sum(i.file_size for i in zipfile.ZipFile(sys.argv[1]).infolist() if i.filename.endswith(".so")))' "$wheel")"
if [ "$so_bytes" -ge $((24 * 1000 * 1000)) ]; then
  echo "test_wheel: the wheel's extension is $so_bytes bytes unpacked, over 24 MB: is it stripped" \
    "(pyproject.toml's [tool.maturin] strip)?" >&2
  exit 1
fi
echo "the extension: $so_bytes bytes unpacked"

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
python3 -m venv "$scratch/venv"
"$scratch/venv/bin/pip" install -q --disable-pip-version-check "$wheel"
mkdir -p "$scratch/work" "$scratch/home"
cat > "$scratch/work/check.py" <<'PY'
"""The wheel's checks that need Python (test_wheel.sh): the CLI and zoorepro.preprocess."""
import json, os, subprocess, sys
import numpy as np
import zoorepro

shared, scratch, version = sys.argv[1], sys.argv[2], sys.argv[3]
sample = os.path.join(shared, "imagenet-sample")
image = sorted(
    os.path.join(root, f) for root, _, files in os.walk(sample) for f in files if f.endswith(".JPEG")
)[0]


def cli(*args):
    return subprocess.run(["zoorepro", *args], capture_output=True, text=True)


assert "site-packages" in zoorepro.__file__, zoorepro.__file__
out = cli("--version")
assert out.returncode == 0 and out.stdout.strip() == f"zoorepro {version}", out
out = cli("verify", "--batch", "0", "--model", "x", "--val", sample)
assert out.returncode == 2 and out.stderr.count("\n") == 1, out
assert out.stderr.startswith("zoorepro: error: "), out

for tool in ("cargo", "rustc"):
    found = subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True, text=True)
    assert found.returncode != 0, f"{tool} is on PATH inside the check: {found.stdout}"

model = "coral/mobilenet_v2_1.0_224_quant"
verify = ["verify", "--model", model, "--models-dir", os.path.join(shared, "models"), "--val", sample]
out = cli("--cache-dir", os.path.join(scratch, "cache"), *verify, "--json")
assert out.returncode == 0, out.stderr
record = json.loads(out.stdout)
assert (record["images"], record["failed"]) == (100, 0), record
assert (record["top1_correct"], record["top5_correct"]) == (72, 93), record
assert record["verdict"]["status"] == "reproduced", record["verdict"]
ort = record["provenance"]["ort_library"]
assert "site-packages/onnxruntime/capi/libonnxruntime.so" in ort, ort
command = record["provenance"]["command_line"]
script = subprocess.run(["sh", "-c", "command -v zoorepro"], capture_output=True, text=True).stdout.strip()
assert command[0] == script and command[-len(verify) - 1:] == [*verify, "--json"], (command, script)
print(f"verify {model}: 72/93 of 100, reproduced, ONNX Runtime from {ort}; "
      f"the record's command: {' '.join(command[:3])} ...")
# `python -m zoorepro`: the same CLI (the rows stored above are reused), and the record names
# the command as typed, not __main__.py's path.
out = subprocess.run([sys.executable, "-m", "zoorepro", "--cache-dir", os.path.join(scratch, "cache"),
                      *verify, "--json"], capture_output=True, text=True)
assert out.returncode == 0, out.stderr
again = json.loads(out.stdout)
assert (again["top1_correct"], again["store"]["reused"]) == (72, 100), again
command = again["provenance"]["command_line"]
assert command == [sys.executable, "-m", "zoorepro", "--cache-dir", os.path.join(scratch, "cache"),
                   *verify, "--json"], command
print("python -m zoorepro: the same run, the record's command `python -m zoorepro ...`")

presets = [r["name"] for r in json.loads(cli("recipes", "--json").stdout)]
cases = [(name, None) for name in presets] + [(presets[0], "12"), (presets[0], "simd")]
with open(image, "rb") as f:
    data = f.read()
for name, compat in cases:
    npy = os.path.join(scratch, "t.npy")
    flags = [] if compat is None else ["--pillow-compat", compat]
    out = cli("preprocess", "--recipe", name, *flags, image, "--out", npy)
    assert out.returncode == 0, out.stderr
    want = np.load(npy)
    for source in (image, data):
        got = zoorepro.preprocess(source, name, pillow_compat=compat)
        assert got.shape == want.shape and got.dtype == want.dtype, (name, got.shape, want.shape)
        assert got.tobytes() == want.tobytes(), (name, compat)
print(f"preprocess: {len(cases)} recipes (presets {', '.join(presets)}; "
      f"{presets[0]} with pillow_compat 12 and simd) byte-identical to the CLI's .npy")

for args, call in [
    (["--recipe", "no-such-recipe", image], lambda: zoorepro.preprocess(image, "no-such-recipe")),
    (["--recipe", presets[0], __file__], lambda: zoorepro.preprocess(__file__, presets[0])),
]:
    out = cli("preprocess", *args, "--out", os.path.join(scratch, "bad.npy"))
    assert out.returncode == 2, out
    try:
        call()
        raise AssertionError(f"no error for {args}")
    except zoorepro.Error as e:
        assert out.stderr.strip() == f"zoorepro: error: {e}", (out.stderr, str(e))
print("errors: zoorepro.Error carries the CLI's message")
PY

# Nothing of the checkout or of Rust: PATH holds the venv and the system's folders only.
clean_path="$scratch/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
for tool in cargo rustc; do
  if env PATH="$clean_path" sh -c "command -v $tool" >/dev/null; then
    echo "test_wheel: $tool is on the clean PATH" >&2
    exit 1
  fi
done
# The wheel without its onnxruntime dependency (pip --no-deps): one line, exit 2, naming the pin.
pin="$(sed -n 's/.*"onnxruntime==\([^"]*\)".*/\1/p' "$repo/pyproject.toml")"
python3 -m venv "$scratch/bare"
"$scratch/bare/bin/pip" install -q --disable-pip-version-check numpy
"$scratch/bare/bin/pip" install -q --disable-pip-version-check --no-deps "$wheel"
status=0
(cd "$scratch/work" && env -i HOME="$scratch/home" PATH="$scratch/bare/bin:${clean_path#*:}" LANG=C.UTF-8 \
  XDG_DATA_HOME="$scratch/home/data" zoorepro --cache-dir "$scratch/cache" verify \
  --model coral/mobilenet_v2_1.0_224_quant --models-dir "$shared/models" --val "$shared/imagenet-sample" \
  >/dev/null 2>"$scratch/bare.log") || status=$?
if [ "$status" != 2 ] || [ "$(wc -l <"$scratch/bare.log")" != 1 ] ||
  ! grep -qF "pip install onnxruntime==$pin\`" "$scratch/bare.log"; then
  cat "$scratch/bare.log" >&2
  echo "test_wheel: without onnxruntime, verify gave exit $status, not 2 with one line naming" \
    "pip install onnxruntime==$pin" >&2
  exit 1
fi
echo "without onnxruntime: exit 2, $(cat "$scratch/bare.log")"
start=$(date +%s)
(cd "$scratch/work" && env -i HOME="$scratch/home" PATH="$clean_path" LANG=C.UTF-8 \
  XDG_DATA_HOME="$scratch/home/data" python check.py "$shared" "$scratch" "$version")
(cd "$scratch/work" && env -i HOME="$scratch/home" PATH="$clean_path" LANG=C.UTF-8 XDG_DATA_HOME="$scratch/home/data" python "$repo/scripts/wheel/check_api.py" "$shared" "$scratch")
(cd "$scratch/work" && env -i HOME="$scratch/home" PATH="$clean_path" LANG=C.UTF-8 XDG_DATA_HOME="$scratch/home/data" python "$repo/scripts/wheel/check_native.py" "$shared" "$scratch")
echo "test_wheel: $(basename "$wheel") passed in $(( $(date +%s) - start )) s (after the build)"
