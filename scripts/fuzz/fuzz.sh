#!/usr/bin/env bash
# Fuzzes zoorepro's untrusted-input parsers with cargo-fuzz (libFuzzer), each for a fixed time:
#   decode_preprocess  JPEG/PNG/... decode + preprocess (first byte picks the recipe)
#   npy                the .npy reader (import-seed caches)
#   tar_source         the --val tar stream (ILSVRC2012_img_val.tar)
#   manifest           the manifest JSON parser and validator
#
# Usage: scripts/fuzz/fuzz.sh [--seconds N] [--sanitizer address|none] [TARGET...]
#   --seconds N    libFuzzer -max_total_time per target (default 600)
#   --sanitizer S  cargo-fuzz sanitizer (default address)
#   TARGET...      a subset of the targets above (default: all, one after the other)
#
# Seed corpora are rebuilt under fuzz/corpus/<target>/seed-* on every run (what libFuzzer adds
# next to them is kept, so later runs resume from it); crashes land in fuzz/artifacts/<target>/.
# The seeds come from ../shared/imagenet-sample (JPEGs), manifests/, and files this script writes
# with the Python standard library; a Python with Pillow (the repo's .venv, or $ZOOREPRO_PYTHON)
# adds tiny JPEG variants (grayscale, CMYK, progressive, odd sizes) when there is one.
#
# Toolchain: cargo-fuzz needs nightly-only rustc flags (-Zsanitizer, -Cpasses=sancov-module).
# Where only a stable toolchain is installed, RUSTC_BOOTSTRAP=1 unlocks them on stable rustc;
# this script sets it. Long runs belong under `nice -n 19` on a shared machine; this script
# renices itself (FUZZ_NICE=0 to opt out).
set -euo pipefail
# readlink -f: also right when run through the symlink at the old path (scripts/<name>.sh).
repo="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)"
cd "$repo"

seconds=600
sanitizer=address
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --seconds=*) seconds="${1#*=}"; shift ;;
    --sanitizer) sanitizer="$2"; shift 2 ;;
    --sanitizer=*) sanitizer="${1#*=}"; shift ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
all_targets=(decode_preprocess npy tar_source manifest)
[ ${#targets[@]} -eq 0 ] && targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
  case " ${all_targets[*]} " in *" $t "*) ;; *) echo "fuzz.sh: unknown target $t" >&2; exit 2 ;; esac
done

[ "${FUZZ_NICE:-19}" != 0 ] && renice -n "${FUZZ_NICE:-19}" -p $$ >/dev/null 2>&1 || true
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz.sh: installing cargo-fuzz" >&2
  cargo install --locked cargo-fuzz
fi

# ---------------------------------------------------------------------------------------------
# Seed corpora

shared="$repo/../shared/imagenet-sample"
corpus="$repo/fuzz/corpus"
for t in "${all_targets[@]}"; do
  mkdir -p "$corpus/$t"
  rm -f "$corpus/$t"/seed-*
done

pil_python=""
for py in "${ZOOREPRO_PYTHON:-}" "$repo/.venv/bin/python"; do
  if [ -n "$py" ] && [ -x "$py" ] && "$py" -c 'import PIL' >/dev/null 2>&1; then
    pil_python="$py"
    break
  fi
done

# The smallest sample JPEGs keep executions fast; libFuzzer's -max_len defaults to the largest seed.
jpegs=()
if [ -d "$shared" ]; then
  while IFS= read -r f; do jpegs+=("$f"); done < <(
    find "$shared" -name '*.JPEG' -printf '%s %p\n' | sort -n | head -n 3 | cut -d' ' -f2-)
else
  echo "fuzz.sh: $shared is absent; seeding without sample JPEGs" >&2
fi

python3 - "$corpus" "${jpegs[@]}" <<'PY'
import io, json, os, struct, sys, tarfile, zlib

corpus, jpegs = sys.argv[1], sys.argv[2:]

def put(target, name, data):
    with open(os.path.join(corpus, target, "seed-" + name), "wb") as f:
        f.write(data)

def png(width, height, color_type, depth, raw_rows):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 0)
    data = b"".join(b"\0" + row for row in raw_rows)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(data)) + chunk(b"IEND", b"")

pngs = {
    "rgb-3x2.png": png(3, 2, 2, 8, [bytes(range(9)), bytes(range(100, 109))]),
    "gray-2x2.png": png(2, 2, 0, 8, [b"\x00\xff", b"\x80\x40"]),
    "rgba-2x1.png": png(2, 1, 6, 8, [b"\x10\x20\x30\x40\x50\x60\x70\x80"]),
    "gray16-1x1.png": png(1, 1, 0, 16, [b"\x12\x34"]),
}
# decode_preprocess: the first byte selects the recipe (low 7 bits) and Pillow 12/13 (top bit).
for i, (name, data) in enumerate(pngs.items()):
    put("decode_preprocess", name, bytes([i]) + data)
for i, path in enumerate(jpegs):
    with open(path, "rb") as f:
        data = f.read()
    put("decode_preprocess", f"sample{i}.jpeg", bytes([i]) + data)
    put("decode_preprocess", f"sample{i}-v12.jpeg", bytes([0x80 | (i + 3)]) + data)
    put("decode_preprocess", f"sample{i}-cut.jpeg", bytes([i + 5]) + data[: len(data) // 2])

# npy: every dtype the reader accepts, each header version, and the edge shapes.
def npy(descr, shape, payload, version=(1, 0), fortran=False):
    dims = "(%s,)" % shape[0] if len(shape) == 1 else "(%s)" % ", ".join(map(str, shape))
    d = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, dims)
    len_size = 2 if version[0] == 1 else 4
    pad = (64 - (8 + len_size + len(d) + 1) % 64) % 64
    header = (d + " " * pad + "\n").encode()
    length = struct.pack("<H" if len_size == 2 else "<I", len(header))
    return b"\x93NUMPY" + bytes(version) + length + header + payload

put("npy", "f4-2x3.npy", npy("<f4", [2, 3], struct.pack("<6f", 0.5, -1, 2, 3.25, 1e-3, 7)))
put("npy", "i8-4.npy", npy("<i8", [4], struct.pack("<4q", 1, -2, 999, 0)))
put("npy", "i4-2x2.npy", npy("<i4", [2, 2], struct.pack("<4i", 5, 6, -7, 8)))
put("npy", "f2-3.npy", npy("<f2", [3], struct.pack("<3H", 0x3C00, 0x0001, 0x7C00)))
put("npy", "v2-f4-1.npy", npy("<f4", [1], struct.pack("<f", 1.5), version=(2, 0)))
put("npy", "v3-i4-1.npy", npy("<i4", [1], struct.pack("<i", 3), version=(3, 0)))
put("npy", "scalar.npy", npy("<f4", [], struct.pack("<f", 9)))
put("npy", "empty-0x5.npy", npy("<f4", [0, 5], b""))
put("npy", "fortran.npy", npy("<f4", [1], struct.pack("<f", 1), fortran=True))
# The shape of a real prediction cache (50000 images x 5 top-5 indices), cut after the header.
put("npy", "cache-head.npy", npy("<i8", [50000, 5], struct.pack("<10q", *range(10))))

# tar_source: members in the layouts real archives use (ustar, GNU long names, pax), with
# non-image and directory members mixed in.
def tar(fmt, members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for name, data in members:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                t.addfile(info)
            else:
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
    return buf.getvalue()

images = []
for path in jpegs[:3]:
    with open(path, "rb") as f:
        images.append((os.path.basename(path), f.read()))
if not images:
    images = [("ILSVRC2012_val_00000001.png", pngs["rgb-3x2.png"])]
put("tar_source", "ustar.tar", tar(tarfile.USTAR_FORMAT, images))
put("tar_source", "gnu-long.tar", tar(tarfile.GNU_FORMAT,
    [("d/" + "x" * 120 + "/" + images[0][0], images[0][1]), ("README.txt", b"not an image\n")]))
put("tar_source", "pax-dir.tar", tar(tarfile.PAX_FORMAT,
    [("val/", None), ("val/" + images[0][0], images[0][1]), ("val/a.png", pngs["gray-2x2.png"])]))
put("tar_source", "tiny.tar", tar(tarfile.USTAR_FORMAT,
    [("ILSVRC2012_val_00000001.png", pngs["rgb-3x2.png"]), ("ILSVRC2012_val_00000002.JPEG", b"")]))
PY

if [ -n "$pil_python" ]; then
  "$pil_python" - "$corpus/decode_preprocess" <<'PY'
import io, sys
from PIL import Image

out = sys.argv[1]
def save(name, selector, img, **kw):
    buf = io.BytesIO()
    img.save(buf, "JPEG", **kw)
    with open(f"{out}/seed-pil-{name}.jpeg", "wb") as f:
        f.write(bytes([selector]) + buf.getvalue())

rgb = Image.new("RGB", (17, 9))
rgb.putdata([(x * 15, y * 28, (x * y) % 256) for y in range(9) for x in range(17)])
save("rgb-420", 0, rgb, quality=75)
save("rgb-444", 1, rgb, quality=95, subsampling=0)
save("rgb-422", 2, rgb, quality=50, subsampling=1)
save("progressive", 3, rgb, progressive=True)
save("gray", 4, rgb.convert("L"))
save("cmyk", 5, rgb.convert("CMYK"))
save("1x1", 6, Image.new("RGB", (1, 1), (200, 10, 30)))
save("tall-3x40", 7, rgb.resize((3, 40)))
save("v12-optimized", 0x80, rgb, quality=60, optimize=True)
PY
else
  echo "fuzz.sh: no Python with Pillow; the decode corpus has only the sample JPEGs and PNGs" >&2
fi

for f in manifests/*.json; do
  cp "$f" "$corpus/manifest/seed-$(basename "$f")"
done

# ---------------------------------------------------------------------------------------------
# Build, then run each target for the fixed time

cargo fuzz build -s "$sanitizer"
summary=()
status=0
for t in "${targets[@]}"; do
  mkdir -p "fuzz/artifacts/$t"
  log="fuzz/artifacts/$t/run.log"
  echo "== $t: ${seconds}s ==" >&2
  set +e
  # -rss_limit_mb: a decoded image may take up to ~0.5 GiB by design (decode::MAX_PIXELS);
  # anything far past that is a finding. -timeout: a single input taking 25 s is a hang.
  cargo fuzz run -s "$sanitizer" "$t" "fuzz/corpus/$t" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=25 -print_final_stats=1 \
    >"$log" 2>&1
  rc=$?
  set -e
  execs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -n 1 | grep -o '[0-9]*$' || true)"
  crashes="$(find "fuzz/artifacts/$t" -type f \( -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' -o -name 'leak-*' \) | sort)"
  line="$t: executions=${execs:-?} exit=$rc"
  [ -n "$crashes" ] && line+=" artifacts: $(echo "$crashes" | tr '\n' ' ')"
  [ "$rc" -ne 0 ] && status=1
  summary+=("$line")
  echo "$line" >&2
done
rm -f /dev/shm/zoorepro-fuzz-*.tar 2>/dev/null || true

echo
echo "summary (${seconds}s per target, sanitizer $sanitizer; logs in fuzz/artifacts/<target>/run.log):"
printf '  %s\n' "${summary[@]}"
exit "$status"
