#!/usr/bin/env bash
# Fuzzes zoorepro's untrusted-input parsers with cargo-fuzz (libFuzzer), each for a fixed time:
#   decode_preprocess  JPEG/PNG/... decode + preprocess (first byte picks the recipe)
#   npy                the .npy reader (import-seed caches)
#   tar_source         the --val tar stream (ILSVRC2012_img_val.tar)
#   tar_gz_source      the same behind a gzip layer (ImageNetV2's .tar.gz; first byte picks the form)
#   png_decode         the PNG decoder (inputs without the PNG signature are given it)
#   tiff_decode        the TIFF decoders (inputs without a TIFF header are given one)
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
# adds tiny JPEG variants (grayscale, CMYK, progressive, odd sizes), PNGs and TIFFs in Pillow's
# own layouts, and the TIFF layouts of src/image/pipelines/pillow/decode/testdata/tiff_layouts.py when there is one.
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
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
all_targets=(decode_preprocess npy tar_source tar_gz_source png_decode tiff_decode manifest)
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
import gzip, io, json, os, struct, sys, tarfile, zlib

corpus, jpegs = sys.argv[1], sys.argv[2:]

def put(target, name, data):
    with open(os.path.join(corpus, target, "seed-" + name), "wb") as f:
        f.write(data)

def chunk(kind, body, crc=None):
    crc = zlib.crc32(kind + body) if crc is None else crc
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]

def png(width, height, color_type, depth, raw_rows, interlace=False, filters=b"\0",
        before=(), after=(), idats=1):
    """A PNG of whole-byte rows (`raw_rows`, unfiltered; bit-packed rows for depths under 8).
    `filters` is cycled over the lines and each line is encoded with its filter; `before` and
    `after` are extra chunks around the IDATs; `idats` splits the zlib stream."""
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color_type]
    bits = channels * depth
    step = max(1, bits // 8)
    # Each Adam7 pass is filtered on its own: its first line has no line above.
    passes = []
    if interlace:
        for x0, y0, dx, dy in ADAM7:
            if x0 < width and y0 < height:
                passes.append([pass_line(raw_rows[y], bits, range(x0, width, dx))
                               for y in range(y0, height, dy)])
    else:
        passes = [list(raw_rows)]
    data, n = b"", 0
    for lines in passes:
        prior = bytes(len(lines[0]))
        for line in lines:
            kind = filters[n % len(filters)]
            n += 1
            data += bytes([kind]) + apply_filter(kind, line, prior, step)
            prior = line
    z = zlib.compress(data)
    cut = max(1, len(z) // idats)
    parts = [z[i:i + cut] for i in range(0, len(z), cut)]
    ihdr = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, int(interlace))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + b"".join(before)
            + b"".join(chunk(b"IDAT", p) for p in parts) + b"".join(after) + chunk(b"IEND", b""))

def pass_line(row, bits, columns):
    """The pixels of `row` at `columns`, repacked (Adam7 passes hold every n-th pixel)."""
    if bits >= 8:
        size = bits // 8
        return b"".join(row[x * size:(x + 1) * size] for x in columns)
    values = [(row[x * bits // 8] >> (8 - bits - x * bits % 8)) & ((1 << bits) - 1) for x in columns]
    out = bytearray((len(values) * bits + 7) // 8)
    for i, v in enumerate(values):
        out[i * bits // 8] |= v << (8 - bits - i * bits % 8)
    return bytes(out)

def apply_filter(kind, line, prior, step):
    out = bytearray(len(line))
    for i, v in enumerate(line):
        a = line[i - step] if i >= step else 0
        b, c = prior[i], prior[i - step] if i >= step else 0
        if kind == 1:
            v -= a
        elif kind == 2:
            v -= b
        elif kind == 3:
            v -= (a + b) // 2
        elif kind == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            v -= a if pa <= pb and pa <= pc else b if pb <= pc else c
        out[i] = v & 0xFF
    return bytes(out)

def rows(width, height, bytes_per_row, seed=1):
    return [bytes((seed * 31 + y * 17 + x * 7 + x * y) & 0xFF for x in range(bytes_per_row))
            for y in range(height)]

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
tars = {
    "ustar.tar": tar(tarfile.USTAR_FORMAT, images),
    "gnu-long.tar": tar(tarfile.GNU_FORMAT,
        [("d/" + "x" * 120 + "/" + images[0][0], images[0][1]), ("README.txt", b"not an image\n")]),
    "pax-dir.tar": tar(tarfile.PAX_FORMAT,
        [("val/", None), ("val/" + images[0][0], images[0][1]), ("val/a.png", pngs["gray-2x2.png"])]),
    "tiny.tar": tar(tarfile.USTAR_FORMAT,
        [("ILSVRC2012_val_00000001.png", pngs["rgb-3x2.png"]), ("ILSVRC2012_val_00000002.JPEG", b"")]),
}
for name, data in tars.items():
    put("tar_source", name, data)
# tar_gz_source: the first byte picks the form (fuzz_targets/tar_gz_source.rs): 0 the rest as
# is, 1 gzipped, 2 gzipped with (byte >> 2) * 16 zero bytes after (and a stray byte with the top
# bit), 3 two gzip members split after (byte >> 2) tar blocks.
for name, data in tars.items():
    put("tar_gz_source", name + ".gz", bytes([0]) + gzip.compress(data, mtime=0))
    put("tar_gz_source", name + "-form1", bytes([1]) + data)
    put("tar_gz_source", name + "-padded", bytes([2 | 4 << 2]) + data)
    put("tar_gz_source", name + "-stray", bytes([0x80 | 2]) + data)
    put("tar_gz_source", name + "-two-members", bytes([3 | 1 << 2]) + data)
    put("tar_gz_source", name + "-cut", bytes([1]) + data[: len(data) // 1024 * 512])

# png_decode: every colour type and bit depth, Adam7, the filters, split IDATs, ancillary chunks,
# and the damage Pillow and zoorepro must agree on (issue 35: bad CRCs, an unknown critical
# chunk, a zero-length gAMA, a cut stream).
for name, data in pngs.items():
    put("png_decode", name, data)
for depth in (1, 2, 4):
    put("png_decode", f"gray{depth}-7x3.png", png(7, 3, 0, depth, rows(7, 3, (7 * depth + 7) // 8)))
    palette = chunk(b"PLTE", bytes(range(3 * (1 << depth))))
    put("png_decode", f"palette{depth}-5x4.png",
        png(5, 4, 3, depth, rows(5, 4, (5 * depth + 7) // 8), before=[palette]))
plte = chunk(b"PLTE", bytes(range(0, 240)))
put("png_decode", "palette8-trns.png",
    png(4, 3, 3, 8, [bytes([0, 1, 79, 200]), bytes([5, 6, 7, 8]), bytes([9, 10, 11, 255])],
        before=[plte, chunk(b"tRNS", b"\x00\x80\xff")]))
put("png_decode", "gray-trns.png", png(3, 2, 0, 8, rows(3, 2, 3), before=[chunk(b"tRNS", b"\x00\x11")]))
put("png_decode", "rgb-trns.png", png(3, 2, 2, 8, rows(3, 2, 9), before=[chunk(b"tRNS", b"\x00\x01\x00\x02\x00\x03")]))
put("png_decode", "gray-alpha8.png", png(3, 3, 4, 8, rows(3, 3, 6)))
put("png_decode", "gray-alpha16.png", png(2, 3, 4, 16, rows(2, 3, 8)))
put("png_decode", "rgb16.png", png(3, 2, 2, 16, rows(3, 2, 18)))
put("png_decode", "rgba16.png", png(2, 2, 6, 16, rows(2, 2, 16)))
put("png_decode", "filters-rgb-6x5.png", png(6, 5, 2, 8, rows(6, 5, 18), filters=b"\0\1\2\3\4"))
put("png_decode", "filters-gray16.png", png(5, 5, 0, 16, rows(5, 5, 10), filters=b"\4\3\2\1\0"))
put("png_decode", "adam7-rgb-9x7.png", png(9, 7, 2, 8, rows(9, 7, 27), interlace=True, filters=b"\0\1\4"))
put("png_decode", "adam7-gray2-10x9.png", png(10, 9, 0, 2, rows(10, 9, 3), interlace=True))
put("png_decode", "adam7-palette1-3x3.png",
    png(3, 3, 3, 1, rows(3, 3, 1), interlace=True, before=[chunk(b"PLTE", b"\x00\x00\x00\xff\xff\xff")]))
put("png_decode", "adam7-rgba16-1x1.png", png(1, 1, 6, 16, rows(1, 1, 8), interlace=True))
put("png_decode", "split-idat.png", png(8, 8, 2, 8, rows(8, 8, 24), idats=4))
ancillary = [
    chunk(b"gAMA", struct.pack(">I", 45455)),
    chunk(b"cHRM", struct.pack(">8I", 31270, 32900, 64000, 33000, 30000, 60000, 15000, 6000)),
    chunk(b"sRGB", b"\x00"),
    chunk(b"pHYs", struct.pack(">IIB", 2835, 2835, 1)),
    chunk(b"tEXt", b"Comment\x00fuzz seed"),
    chunk(b"zTXt", b"Title\x00\x00" + zlib.compress(b"compressed text")),
    chunk(b"iTXt", b"Author\x00\x00\x00en\x00Autor\x00zoorepro"),
    chunk(b"iCCP", b"icc\x00\x00" + zlib.compress(b"\0" * 128)),
    chunk(b"sBIT", b"\x08\x08\x08"),
    chunk(b"bKGD", b"\x00\x10\x00\x20\x00\x30"),
]
put("png_decode", "ancillary.png",
    png(4, 4, 2, 8, rows(4, 4, 12), before=ancillary,
        after=[chunk(b"tIME", struct.pack(">HBBBBB", 2026, 1, 2, 3, 4, 5))]))
put("png_decode", "bad-crc-text.png",
    png(3, 2, 2, 8, rows(3, 2, 9), before=[chunk(b"tEXt", b"k\x00v", crc=1)]))
bad_idat = png(3, 2, 2, 8, rows(3, 2, 9))
idat_end = bad_idat.index(b"IEND") - 8
put("png_decode", "bad-crc-idat.png", bad_idat[:idat_end] + b"\0\0\0\0" + bad_idat[idat_end + 4:])
put("png_decode", "unknown-critical.png", png(2, 2, 0, 8, rows(2, 2, 2), before=[chunk(b"ZZZZ", b"x")]))
put("png_decode", "empty-gama.png", png(2, 2, 0, 8, rows(2, 2, 2), before=[chunk(b"gAMA", b"")]))
whole = png(6, 6, 6, 8, rows(6, 6, 24))
put("png_decode", "cut-in-idat.png", whole[: len(whole) - 30])

# tiff_decode: a classic or BigTIFF file of one or more IFDs, each (entries, chunks); an entry's
# values of None are its chunks' offsets. Layouts zoorepro streams and ones it leaves to the
# `image` crate (palette, bilevel, CMYK, YCbCr, float, signed, planar, LZW, several pages).
TYPES = {3: "H", 4: "I", 16: "Q", 5: "II"}

def tiff(ifds, be=False, big=False):
    e = ">" if be else "<"
    out = bytearray((b"MM" if be else b"II") + (struct.pack(e + "HHHQ", 43, 8, 0, 0) if big
                                               else struct.pack(e + "HI", 42, 0)))
    link_at = 8 if big else 4
    for entries, chunks in ifds:
        offsets = []
        for c in chunks:
            offsets.append(len(out))
            out += c + b"\0" * (len(c) % 2)
        values = {}
        for tag, typ, vals in entries:
            vals = offsets if vals is None else vals
            if big and typ == 4 and tag in (273, 279, 324, 325):
                typ = 16
            values[tag] = (typ, vals, b"".join(struct.pack(e + TYPES[typ], *(v if isinstance(v, tuple) else (v,)))
                                               for v in vals))
        inline = 8 if big else 4
        for tag in values:  # out-of-line values go before the IFD
            typ, vals, data = values[tag]
            if len(data) > inline:
                values[tag] = (typ, vals, data, len(out))
                out += data + b"\0" * (len(data) % 2)
        ifd_at = len(out)
        out[link_at:link_at + inline] = struct.pack(e + ("Q" if big else "I"), ifd_at)
        out += struct.pack(e + ("Q" if big else "H"), len(values))
        for tag in sorted(values):
            typ, vals, data, *where = values[tag]
            field = data.ljust(inline, b"\0") if not where else struct.pack(e + ("Q" if big else "I"), where[0])
            out += struct.pack(e + ("HHQ" if big else "HHI"), tag, typ, len(vals)) + field
        link_at = len(out)
        out += bytes(inline)
    return bytes(out)

def ifd(width, height, bps, photometric, chunks, rows_per_strip=None, tile=None, extra=()):
    spp = len(bps)
    entries = [(256, 4, [width]), (257, 4, [height]), (258, 3, list(bps)), (262, 3, [photometric]),
               (277, 3, [spp])] + list(extra)
    if tile:
        entries += [(322, 4, [tile[0]]), (323, 4, [tile[1]]), (324, 4, None), (325, 4, [len(c) for c in chunks])]
    else:
        entries += [(273, 4, None), (278, 4, [rows_per_strip or height]), (279, 4, [len(c) for c in chunks])]
    return entries, chunks

def lzw(data):
    """TIFF LZW with literal codes only: a Clear code every 250 bytes keeps codes at 9 bits."""
    codes = [256]
    for i in range(0, len(data), 250):
        codes += list(data[i:i + 250]) + [256]
    codes[-1] = 257
    bits = "".join(format(c, "09b") for c in codes)
    bits += "0" * (-len(bits) % 8)
    return bytes(int(bits[i:i + 8], 2) for i in range(0, len(bits), 8))

def packbits(data):
    out = bytearray()
    for i in range(0, len(data), 128):
        block = data[i:i + 128]
        if len(set(block)) == 1 and len(block) > 1:
            out += bytes([257 - len(block), block[0]])
        else:
            out += bytes([len(block) - 1]) + block
    return bytes(out)

def pixels(n, seed=3):
    return bytes((seed * 13 + i * 29 + (i >> 3) * 7) & 0xFF for i in range(n))

def compressed(tag):
    return [(259, 3, [tag])]

W, H = 6, 4
gray, rgb, rgba = pixels(W * H), pixels(W * H * 3), pixels(W * H * 4)
tiffs = {
    "gray8-strips.tif": tiff([ifd(W, H, [8], 1, [gray[:12], gray[12:]], rows_per_strip=2)]),
    "gray8-white-is-zero-be.tif": tiff([ifd(W, H, [8], 0, [gray])], be=True),
    "gray16-be.tif": tiff([ifd(W, H, [16], 1, [pixels(W * H * 2)])], be=True),
    "rgb8-deflate-predictor.tif": tiff([ifd(W, H, [8, 8, 8], 2, [zlib.compress(rgb)],
                                           extra=compressed(8) + [(317, 3, [2])])]),
    "rgb8-lzw.tif": tiff([ifd(W, H, [8, 8, 8], 2, [lzw(rgb)], extra=compressed(5))]),
    "rgb16-lzw-predictor-be.tif": tiff([ifd(W, H, [16] * 3, 2, [lzw(pixels(W * H * 6))],
                                            extra=compressed(5) + [(317, 3, [2])])], be=True),
    "rgba8-unassociated-packbits-tiled.tif": tiff([ifd(W, H, [8] * 4, 2,
        [packbits(pixels(16 * 16 * 4))], tile=(16, 16),
        extra=compressed(32773) + [(338, 3, [2])])]),
    "rgba16-associated.tif": tiff([ifd(W, H, [16] * 4, 2, [pixels(W * H * 8)], extra=[(338, 3, [1])])]),
    "gray-alpha8.tif": tiff([ifd(W, H, [8, 8], 1, [pixels(W * H * 2)], extra=[(338, 3, [2])])]),
    "bigtiff-rgb8.tif": tiff([ifd(W, H, [8, 8, 8], 2, [rgb[:36], rgb[36:]], rows_per_strip=2)], big=True),
    "bigtiff-gray8-be.tif": tiff([ifd(W, H, [8], 1, [gray])], be=True, big=True),
    "two-pages.tif": tiff([ifd(W, H, [8], 1, [gray]), ifd(2, 2, [8, 8, 8], 2, [rgb[:12]])]),
    "palette8.tif": tiff([ifd(W, H, [8], 3, [gray], extra=[(320, 3, [i * 257 for i in range(256)] * 3)])]),
    "palette4.tif": tiff([ifd(W, H, [4], 3, [gray[:12]], extra=[(320, 3, [i * 4369 for i in range(16)] * 3)])]),
    "bilevel.tif": tiff([ifd(W, H, [1], 0, [gray[:4]])]),
    "bilevel-fill-order-2.tif": tiff([ifd(W, H, [1], 1, [gray[:4]], extra=[(266, 3, [2])])]),
    "cmyk8.tif": tiff([ifd(W, H, [8] * 4, 5, [rgba])]),
    "ycbcr8.tif": tiff([ifd(W, H, [8] * 3, 6, [rgb], extra=[(530, 3, [1, 1])])]),
    "float32.tif": tiff([ifd(W, H, [32], 1, [struct.pack("<24f", *[i / 24 for i in range(24)])],
                             extra=[(339, 3, [3])])]),
    "int16-signed.tif": tiff([ifd(W, H, [16], 1, [pixels(W * H * 2)], extra=[(339, 3, [2])])]),
    "rgb8-planar.tif": tiff([ifd(W, H, [8] * 3, 2, [rgb[:24], rgb[24:48], rgb[48:]],
                                 extra=[(284, 3, [2])])]),
    "rgb8-resolution.tif": tiff([ifd(W, H, [8] * 3, 2, [rgb],
                                     extra=[(282, 5, [(72, 1)]), (283, 5, [(72, 1)]), (296, 3, [2])])]),
    "rgb8-cut.tif": tiff([ifd(W, H, [8] * 3, 2, [rgb])])[:60],
}
for name, data in tiffs.items():
    put("tiff_decode", name, data)
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
  # PNGs and TIFFs in the layouts Pillow itself writes, and the TIFF layouts zoorepro's tests
  # compare with Pillow (tiff_layouts.py writes them beside what Pillow decodes; only the .tif
  # files are seeds).
  "$pil_python" - "$corpus" <<'PY'
import io, sys
from PIL import Image, PngImagePlugin

out = sys.argv[1]
def save(target, name, img, fmt, **kw):
    buf = io.BytesIO()
    try:
        img.save(buf, fmt, **kw)
    except (OSError, ValueError, KeyError) as e:  # a codec this Pillow was built without
        print(f"fuzz.sh: no seed {name}: {e}", file=sys.stderr)
        return
    with open(f"{out}/{target}/seed-pil-{name}", "wb") as f:
        f.write(buf.getvalue())

rgb = Image.new("RGB", (11, 7))
rgb.putdata([(x * 23, y * 36, (x * y * 5) % 256) for y in range(7) for x in range(11)])
wide16 = Image.linear_gradient("L").resize((9, 5)).convert("I").point(lambda v: v * 257)

info = PngImagePlugin.PngInfo()
info.add_text("Comment", "fuzz seed")
info.add_text("Title", "compressed", zip=True)
info.add_itxt("Author", "zoorepro", lang="en", tkey="Autor")
for name, img, kw in [
    ("1", rgb.convert("1"), {}),
    ("l", rgb.convert("L"), {}),
    ("la", rgb.convert("LA"), {}),
    ("p", rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=60), {}),
    ("p-bits2", rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=4), {"bits": 2}),
    ("p-transparency", rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=16), {"transparency": 3}),
    ("rgb-transparency", rgb, {"transparency": (0, 36, 0)}),
    ("rgba", rgb.convert("RGBA"), {"optimize": True}),
    ("i16", wide16.convert("I;16"), {}),
    ("text-dpi", rgb, {"pnginfo": info, "dpi": (300, 300)}),
    ("stored", rgb, {"compress_level": 0}),
    ("apng", rgb, {"save_all": True, "append_images": [rgb.rotate(90), rgb.convert("L").convert("RGB")],
                   "duration": 40, "loop": 0, "disposal": 1, "blend": 1}),
    ("apng-rgba-default", rgb.convert("RGBA"), {"save_all": True, "default_image": True,
                                                "append_images": [rgb.convert("RGBA").rotate(45)]}),
]:
    save("png_decode", name + ".png", img, "PNG", **kw)

for mode, img in [("1", rgb.convert("1")), ("l", rgb.convert("L")), ("p", rgb.convert("P")),
                  ("rgb", rgb), ("cmyk", rgb.convert("CMYK")), ("f", rgb.convert("F")),
                  ("i", wide16), ("i16b", wide16.convert("I;16B")), ("lab", rgb.convert("LAB")),
                  ("ycbcr", rgb.convert("YCbCr"))]:
    save("tiff_decode", f"{mode}-raw.tif", img, "TIFF")
    save("tiff_decode", f"{mode}-lzw.tif", img, "TIFF", compression="tiff_lzw")
for name, img, kw in [
    ("1-group3.tif", rgb.convert("1"), {"compression": "group3"}),
    ("1-group4.tif", rgb.convert("1"), {"compression": "group4"}),
    ("1-packbits.tif", rgb.convert("1"), {"compression": "packbits"}),
    ("rgb-jpeg.tif", rgb, {"compression": "jpeg", "quality": 80}),
    ("l-jpeg.tif", rgb.convert("L"), {"compression": "jpeg"}),
    ("rgb-deflate.tif", rgb, {"compression": "tiff_deflate"}),
    ("rgba-adobe-deflate.tif", rgb.convert("RGBA"), {"compression": "tiff_adobe_deflate"}),
    ("pages.tif", rgb, {"save_all": True, "append_images": [rgb.convert("L"), rgb.convert("1")]}),
]:
    save("tiff_decode", name, img, "TIFF", **kw)
PY
  layouts="$(mktemp -d)"
  if "$pil_python" src/image/pipelines/pillow/decode/testdata/tiff_layouts.py "$layouts" >/dev/null; then
    for f in "$layouts"/*.tif; do cp "$f" "$corpus/tiff_decode/seed-layout-$(basename "$f")"; done
  fi
  rm -rf "$layouts"
else
  echo "fuzz.sh: no Python with Pillow; the decode corpora have only the sample JPEGs and the PNGs and TIFFs written here" >&2
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
