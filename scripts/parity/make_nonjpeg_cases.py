#!/usr/bin/env python3
"""Write the generated non-JPEG cases of issue 35 item 11 to tests/nonjpeg-corpus/made/
(Pillow only, deterministic: the same bytes on every run with Pillow 13.0.0).

Seeds are a synthetic picture (make_jpeg_cases.picture) saved by Pillow as PNG, TIFF, GIF, BMP
and WebP in several layouts. Then:

  png-*        chunk-level edits of a PNG: an ancillary chunk (tEXt, gAMA, ...) with a bad CRC,
               an IDAT with a bad CRC (first and later IDAT), an unknown critical chunk before
               and after the image data, zero-length and short gAMA/cHRM/sRGB/pHYs/tRNS/IHDR,
               a bad CRC on IHDR/PLTE/IEND, a chunk with a type that is not letters, data after
               IEND, no IEND, IDAT split in many chunks with another chunk between them, ...
  tiff-*       the TIFF layouts Pillow writes: palette, float32 (F), int32 (I), 16-bit (I;16,
               I;16B), 1-bit raw/G3/G4, LAB, YCbCr, CMYK, JPEG-compressed RGB and gray (YCbCr
               and not), LZW/deflate/PackBits, RGBA, LA
  cut-*        each seed cut at 25%, 50%, 90% of its bytes and 8 bytes before its end
  flip-*       each seed with 3 bytes changed at positions drawn from a seeded generator

Run with the reference venv: .venv/bin/python scripts/parity/make_nonjpeg_cases.py
"""
import io
import os
import random
import struct
import sys
import zlib

from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_jpeg_cases import picture  # noqa: E402  (the same synthetic picture as the JPEG cases)

OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                   "tests", "nonjpeg-corpus", "made")


def save(img, fmt, **kw):
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------
# PNG chunk edits

def chunks(png):
    """[(type, data)] of a PNG; the signature is not included."""
    out, i = [], 8
    while i + 8 <= len(png):
        n = struct.unpack(">I", png[i:i + 4])[0]
        out.append((png[i + 4:i + 8], png[i + 8:i + 8 + n]))
        i += 12 + n
    return out


def chunk(kind, data, crc=None):
    if crc is None:
        crc = zlib.crc32(kind + data)
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc & 0xFFFFFFFF)


def build(parts):
    return b"\x89PNG\r\n\x1a\n" + b"".join(parts)


def with_chunk(png, before, kind, data, crc=None, after=False):
    """`png` with a chunk inserted before (or after) its first chunk of type `before`."""
    parts, done = [], False
    for k, d in chunks(png):
        if k == before and not done and not after:
            parts.append(chunk(kind, data, crc))
            done = True
        parts.append(chunk(k, d))
        if k == before and not done and after:
            parts.append(chunk(kind, data, crc))
            done = True
    return build(parts)


def bad_crc(png, kind, index=0):
    parts, seen = [], 0
    for k, d in chunks(png):
        if k == kind:
            parts.append(chunk(k, d, zlib.crc32(k + d) ^ 0x5A5A5A5A if seen == index else None))
            seen += 1
        else:
            parts.append(chunk(k, d))
    return build(parts)


def split_idat(png, pieces, between=None):
    """`png` with its image data in `pieces` IDAT chunks, `between` chunks after the first."""
    parts = []
    for k, d in chunks(png):
        if k == b"IDAT":
            step = max(1, -(-len(d) // pieces))
            for j, at in enumerate(range(0, len(d), step)):
                parts.append(chunk(b"IDAT", d[at:at + step]))
                if j == 0 and between:
                    parts.append(between)
        else:
            parts.append(chunk(k, d))
    return build(parts)


def png_cases(base, pal, gray16):
    iend = chunk(b"IEND", b"")
    text = (b"tEXt", b"Comment\0made for zoorepro")
    cases = {
        "png-base.png": base,
        "png-palette.png": pal,
        "png-gray16.png": gray16,
        "png-text-bad-crc.png": with_chunk(base, b"IDAT", *text, crc=1),
        "png-text-bad-crc-after-idat.png": with_chunk(base, b"IEND", *text, crc=1),
        "png-gama-bad-crc.png": with_chunk(base, b"IDAT", b"gAMA", struct.pack(">I", 45455),
                                           crc=7),
        "png-private-bad-crc.png": with_chunk(base, b"IDAT", b"prIv", b"abc", crc=3),
        "png-idat-bad-crc.png": bad_crc(base, b"IDAT"),
        "png-idat2-bad-crc.png": bad_crc(split_idat(base, 4), b"IDAT", 2),
        "png-ihdr-bad-crc.png": bad_crc(base, b"IHDR"),
        "png-plte-bad-crc.png": bad_crc(pal, b"PLTE"),
        "png-iend-bad-crc.png": bad_crc(base, b"IEND"),
        "png-unknown-critical.png": with_chunk(base, b"IDAT", b"CRIT", b"\1\2\3"),
        "png-unknown-critical-after-idat.png": with_chunk(base, b"IEND", b"CRIT", b"\1\2\3"),
        "png-unknown-ancillary.png": with_chunk(base, b"IDAT", b"abCd", b"\1\2\3"),
        "png-not-a-chunk-type.png": with_chunk(base, b"IDAT", b"a1b2", b""),
        "png-not-a-chunk-type-after-idat.png": with_chunk(base, b"IEND", b"a1b2", b""),
        "png-idat-split.png": split_idat(base, 7),
        "png-idat-split-text-between.png": split_idat(base, 3, chunk(*text)),
        "png-data-after-iend.png": base + b"garbage after the end",
        "png-chunk-after-iend.png": base + chunk(b"gAMA", b""),
        "png-no-iend.png": base[:-len(iend)],
        "png-no-iend-cut-crc.png": base[:-len(iend) - 2],
        "png-iend-with-data.png": build([chunk(k, d) for k, d in chunks(base)[:-1]]
                                        + [chunk(b"IEND", b"data")]),
        "png-empty-idat-first.png": with_chunk(base, b"IDAT", b"IDAT", b""),
        "png-gray16-trns.png": with_chunk(gray16, b"IDAT", b"tRNS", b"\x01\x00"),
        "png-palette-short-plte.png": build(
            [chunk(k, d[:12] if k == b"PLTE" else d) for k, d in chunks(pal)]),
        "png-palette-no-plte.png": build([chunk(k, d) for k, d in chunks(pal) if k != b"PLTE"]),
        "png-palette-trns.png": with_chunk(pal, b"IDAT", b"tRNS", bytes(range(0, 256, 16))),
        "png-ihdr-short.png": build([chunk(b"IHDR", chunks(base)[0][1][:12])]
                                    + [chunk(k, d) for k, d in chunks(base)[1:]]),
        "png-ihdr-filter-method-1.png": build(
            [chunk(b"IHDR", chunks(base)[0][1][:11] + b"\1\0")]
            + [chunk(k, d) for k, d in chunks(base)[1:]]),
        "png-ihdr-bad-color.png": build(
            [chunk(b"IHDR", chunks(base)[0][1][:9] + b"\5" + chunks(base)[0][1][10:])]
            + [chunk(k, d) for k, d in chunks(base)[1:]]),
    }
    for kind, good in [(b"gAMA", struct.pack(">I", 45455)), (b"cHRM", bytes(32)),
                       (b"sRGB", b"\0"), (b"pHYs", bytes(9)), (b"tRNS", bytes(6)),
                       (b"iCCP", b"name\0\0" + zlib.compress(b"x" * 64)),
                       (b"zTXt", b"k\0\0" + zlib.compress(b"v")), (b"iTXt", b"k\0\0\0\0\0v"),
                       (b"eXIf", b"MM\0*"), (b"acTL", bytes(8))]:
        name = kind.decode()
        cases["png-%s-ok.png" % name] = with_chunk(base, b"IDAT", kind, good)
        cases["png-%s-zero-length.png" % name] = with_chunk(base, b"IDAT", kind, b"")
        cases["png-%s-short.png" % name] = with_chunk(base, b"IDAT", kind, good[:len(good) // 2])
        cases["png-%s-zero-length-after-idat.png" % name] = with_chunk(base, b"IEND", kind, b"")
    cases["png-iCCP-method-1.png"] = with_chunk(base, b"IDAT", b"iCCP", b"name\0\1xyz")
    cases["png-zTXt-method-1.png"] = with_chunk(base, b"IDAT", b"zTXt", b"k\0\1xyz")
    cases["png-zTXt-bad-zlib.png"] = with_chunk(base, b"IDAT", b"zTXt", b"k\0\0xyz")
    return cases


# ---------------------------------------------------------------------------------------------
# TIFF layouts

def tiff_cases(img):
    small = img.resize((29, 19))
    cases = {}
    layouts = [
        ("rgb-raw", small, {}),
        ("rgb-lzw", small, {"compression": "tiff_lzw"}),
        ("rgb-deflate", small, {"compression": "tiff_adobe_deflate"}),
        ("rgb-packbits", small, {"compression": "packbits"}),
        ("rgb-jpeg", small, {"compression": "jpeg"}),
        ("rgb-jpeg-q95", small, {"compression": "jpeg", "quality": 95}),
        ("gray-jpeg", small.convert("L"), {"compression": "jpeg"}),
        ("palette", small.convert("P", palette=Image.Palette.ADAPTIVE, colors=50), {}),
        ("palette-lzw", small.convert("P"), {"compression": "tiff_lzw"}),
        ("float32", small.convert("F"), {}),
        ("int32", small.convert("I"), {}),
        ("int32-big", Image.eval(small.convert("I"), lambda v: v * 300 - 20000), {}),
        ("float32-wide", Image.eval(small.convert("F"), lambda v: v * 3.7 - 200.25), {}),
        ("i16", small.convert("I;16"), {}),
        ("i16-big", Image.eval(small.convert("I"), lambda v: v * 250).convert("I;16"), {}),
        ("bilevel-raw", small.convert("1"), {}),
        ("bilevel-g3", small.convert("1"), {"compression": "group3"}),
        ("bilevel-g4", small.convert("1"), {"compression": "group4"}),
        ("lab", small.convert("LAB"), {}),
        ("ycbcr", small.convert("YCbCr"), {}),
        ("cmyk", small.convert("CMYK"), {}),
        ("cmyk-lzw", small.convert("CMYK"), {"compression": "tiff_lzw"}),
        ("rgba", small.convert("RGBA"), {}),
        ("la", small.convert("LA"), {}),
        ("gray", small.convert("L"), {}),
    ]
    for name, im, kw in layouts:
        try:
            cases["tiff-%s.tif" % name] = save(im, "TIFF", **kw)
        except Exception as e:  # noqa: BLE001  (a layout this Pillow cannot write is skipped)
            print("skipped tiff-%s: %s" % (name, e), file=sys.stderr)
    return cases


def seeds(img):
    out = {}
    out["seed.png"] = save(img, "PNG")
    out["seed-interlaced-palette.png"] = save(img.convert("P"), "PNG", interlace=1)
    out["seed.gif"] = save(img.convert("P"), "GIF")
    out["seed.bmp"] = save(img, "BMP")
    out["seed-gray.bmp"] = save(img.convert("L"), "BMP")
    out["seed-lossy.webp"] = save(img, "WEBP", quality=80)
    out["seed-lossless.webp"] = save(img, "WEBP", lossless=True)
    out["seed-lzw.tif"] = save(img, "TIFF", compression="tiff_lzw")
    out["seed-jpeg.tif"] = save(img, "TIFF", compression="jpeg")
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    img = picture(64, 40)
    base = save(img, "PNG")
    pal = save(img.convert("P", palette=Image.Palette.ADAPTIVE, colors=40), "PNG")
    gray16 = save(Image.eval(img.convert("I"), lambda v: v * 257).convert("I;16"), "PNG")
    cases = {}
    cases.update(png_cases(base, pal, gray16))
    cases.update(tiff_cases(img))
    rng = random.Random(35)
    for name, data in seeds(img).items():
        stem, ext = os.path.splitext(name)
        cases[name] = data
        for frac in (0.25, 0.5, 0.9):
            cases["cut-%s-%d%s" % (stem, frac * 100, ext)] = data[:int(len(data) * frac)]
        cases["cut-%s-end8%s" % (stem, ext)] = data[:-8]
        for j in range(6):
            flipped = bytearray(data)
            for _ in range(3):
                at = rng.randrange(8, len(data))
                flipped[at] ^= 1 << rng.randrange(8)
            cases["flip-%s-%d%s" % (stem, j, ext)] = bytes(flipped)
    for old in os.listdir(OUT):
        os.remove(os.path.join(OUT, old))
    for name, data in sorted(cases.items()):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print("%d files, %d bytes in %s" % (len(cases), sum(map(len, cases.values())), OUT))


if __name__ == "__main__":
    main()
