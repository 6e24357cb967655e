#!/usr/bin/env python3
"""Write the generated JPEG cases of issue 18 to tests/jpeg-corpus/made/ (Pillow only, deterministic).

The public corpus (tests/jpeg-corpus/files) lacks some of the cases issue 18 names, or has them
only by accident; these files make each one on purpose, from a synthetic picture encoded by
Pillow and then edited at the byte level:

  base-420.jpg / base-444-tall.jpg   the untouched pictures (baseline, standard Huffman tables)
  no-dht.jpg                 every DHT removed: an MJPEG-style frame; libjpeg uses the standard
                             tables, which are the ones Pillow wrote, so it decodes like the base
  no-dht-optimized.jpg       DHT removed from a file with optimised tables: the standard tables
                             do not fit, so the pixels differ from the base (and depend on any
                             state left by a previous image)
  no-dqt.jpg                 every DQT removed: refused alone ("quantization table not defined")
  no-eoi.jpg                 the final FF D9 removed; all scan data present
  eoi-corrupt.jpg            the final FF D9 overwritten with FF 00
  eoi-then-junk.jpg          64 bytes of junk after the EOI
  stray-marker-in-scan.jpg   an FF D8 marker pasted into the middle of the entropy-coded data
  extraneous-bytes.jpg       5 junk bytes before the first DQT (libjpeg warns, Pillow accepts)
  icc-seq0.jpg / icc-count-mismatch.jpg
                             an ICC profile whose APP2 chunk is numbered 0, or whose chunk count
                             is wrong (libjpeg warns)
  truncated-below-crop.jpg   base-444-tall.jpg cut at 88% of its bytes: the rows the torchvision
                             centre crop needs are all present, the last rows are not
  truncated-half.jpg         base-420.jpg cut at 50% of its bytes

Run with the reference venv (Pillow 13.0.0): the bytes are those of its libjpeg-turbo.
"""
import io
import os
import sys

from PIL import Image, ImageCms, ImageDraw

OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                   "tests", "jpeg-corpus", "made")


def picture(w, h):
    """A deterministic colour picture with gradients and sharp edges."""
    r = Image.linear_gradient("L").resize((w, h), Image.BILINEAR)
    g = Image.radial_gradient("L").resize((w, h), Image.BILINEAR)
    b = Image.linear_gradient("L").rotate(90).resize((w, h), Image.BILINEAR)
    img = Image.merge("RGB", (r, g, b))
    draw = ImageDraw.Draw(img)
    for i in range(0, max(w, h), 23):
        draw.line([(i, 0), (0, i)], fill=(255 - i % 256, i % 256, 128), width=3)
        draw.rectangle([i % w, (3 * i) % h, i % w + 9, (3 * i) % h + 6], fill=(i % 256, 40, 200))
    return img


def encode(img, **kw):
    buf = io.BytesIO()
    img.save(buf, "JPEG", **kw)
    return buf.getvalue()


def segments(data):
    """Split a JPEG into (marker, bytes) pieces up to and including SOS; the rest is one piece."""
    assert data[:2] == b"\xff\xd8"
    out, i = [(0xD8, data[:2])], 2
    while True:
        assert data[i] == 0xFF, "expected a marker at %d" % i
        marker = data[i + 1]
        length = int.from_bytes(data[i + 2:i + 4], "big")
        out.append((marker, data[i:i + 2 + length]))
        i += 2 + length
        if marker == 0xDA:
            out.append((None, data[i:]))
            return out


def without(data, marker):
    return b"".join(seg for m, seg in segments(data) if m != marker)


def sos_end(data):
    """Offset of the first entropy-coded byte."""
    return sum(len(seg) for m, seg in segments(data)[:-1])


def main():
    os.makedirs(OUT, exist_ok=True)
    files = {}
    base = encode(picture(320, 240), quality=90, subsampling=2)
    tall = encode(picture(240, 640), quality=90, subsampling=0)
    optimized = encode(picture(320, 240), quality=90, subsampling=2, optimize=True)
    files["base-420.jpg"] = base
    files["base-444-tall.jpg"] = tall
    files["no-dht.jpg"] = without(base, 0xC4)
    files["no-dht-optimized.jpg"] = without(optimized, 0xC4)
    files["no-dqt.jpg"] = without(base, 0xDB)
    assert base.endswith(b"\xff\xd9")
    files["no-eoi.jpg"] = base[:-2]
    files["eoi-corrupt.jpg"] = base[:-2] + b"\xff\x00"
    files["eoi-then-junk.jpg"] = base + bytes((i * 37) % 256 for i in range(64))
    start = sos_end(base)
    mid = (start + len(base)) // 2
    while base[mid - 1] == 0xFF:          # do not split an FF 00 / RST pair
        mid += 1
    files["stray-marker-in-scan.jpg"] = base[:mid] + b"\xff\xd8" + base[mid:]
    segs = segments(base)
    first_dqt = next(k for k, (m, _) in enumerate(segs) if m == 0xDB)
    files["extraneous-bytes.jpg"] = b"".join(
        (b"\x01\x02\x03\x04\x05" if k == first_dqt else b"") + seg for k, (_, seg) in enumerate(segs))
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    with_icc = encode(picture(320, 240), quality=90, subsampling=2, icc_profile=icc)
    tag = with_icc.index(b"ICC_PROFILE\x00")
    files["icc-seq0.jpg"] = with_icc[:tag + 12] + b"\x00" + with_icc[tag + 13:]
    files["icc-count-mismatch.jpg"] = with_icc[:tag + 13] + b"\x03" + with_icc[tag + 14:]
    files["truncated-below-crop.jpg"] = tall[:int(len(tall) * 0.88)]
    files["truncated-half.jpg"] = base[:len(base) // 2]

    for name, data in sorted(files.items()):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print("wrote %d files to %s" % (len(files), OUT), file=sys.stderr)


if __name__ == "__main__":
    main()
