"""Small TIFFs in every layout src/image/pipelines/pillow/decode/tiff.rs streams (8/16-bit gray, gray + alpha, RGB,
RGBA with unspecified, associated and unassociated alpha; WhiteIsZero gray; strips and tiles; none, deflate, PackBits,
LZW; predictor 2; both byte orders), plus Pillow's own writer's files, each with what Pillow 13's
convert('RGB') makes of it (or "refused: <error>"). Run by tiff.rs's unit tests: python tiff_layouts.py DIR
"""
import sys, struct, zlib, random
from PIL import Image
out = sys.argv[1]
rng = random.Random(7)
W, H = 37, 23

def packbits(data):
    o = bytearray(); i = 0
    while i < len(data):
        j = i
        while j < len(data) and j - i < 128 and data[j] == data[i]: j += 1
        if j - i >= 3:
            o += bytes([257 - (j - i), data[i]]); i = j
        else:
            n = min(128, len(data) - i); o += bytes([n - 1]) + data[i:i + n]; i += n
    return bytes(o)

def write(name, spp, bps, photometric=None, extra=None, compression=1, predictor=1, tile=None, be=False, rps=5):
    e = '>' if be else '<'
    bpp = spp * bps // 8
    def sample_row(y, w):
        vals = [rng.randrange(0, 1 << bps) for _ in range(w * spp)]
        if extra is not None and spp in (2, 4):  # alpha at or above colour when premultiplied
            for x in range(w):
                a = vals[x * spp + spp - 1]
                for c in range(spp - 1):
                    vals[x * spp + c] = vals[x * spp + c] * a >> bps if extra == 1 else vals[x * spp + c]
            for x in range(0, w, 7): vals[x * spp + spp - 1] = 0
            for x in range(3, w, 7): vals[x * spp + spp - 1] = (1 << bps) - 1
        return vals
    def encode_row(vals):
        if predictor == 2:
            vals = vals[:spp] + [(vals[i] - vals[i - spp]) % (1 << bps) for i in range(spp, len(vals))]
        return b"".join(struct.pack(e + ("B" if bps == 8 else "H"), v) for v in vals)
    cw, ch = tile if tile else (W, rps)
    chunks = []
    for ty in range(0, H, ch):
        for tx in range(0, W, cw) if tile else [0]:
            rows = ch if tile else min(ch, H - ty)
            raw = b"".join(encode_row(sample_row(ty + r, cw)) for r in range(rows))
            chunks.append({1: raw, 8: zlib.compress(raw), 32773: packbits(raw)}[compression])
    photometric = photometric if photometric is not None else (2 if spp >= 3 else 1)
    entries = [(256, 4, [W]), (257, 4, [H]), (258, 3, [bps] * spp), (259, 3, [compression]),
               (262, 3, [photometric]), (277, 3, [spp]), (284, 3, [1])]
    if tile:
        entries += [(322, 4, [cw]), (323, 4, [ch]), (324, 4, None), (325, 4, [len(c) for c in chunks])]
    else:
        entries += [(273, 4, None), (278, 4, [rps]), (279, 4, [len(c) for c in chunks])]
    if predictor != 1: entries.append((317, 3, [predictor]))
    if extra is not None: entries.append((338, 3, [extra]))
    entries.sort()
    blob = bytearray((b"MM" if be else b"II") + struct.pack(e + "HI", 42, 0))
    offsets = []
    for c in chunks:
        offsets.append(len(blob)); blob += c
        if len(blob) % 2: blob += b"\0"
    ifd_at = len(blob); extra_at = ifd_at + 2 + len(entries) * 12 + 4
    ifd = struct.pack(e + "H", len(entries)); tail = b""
    for tag, typ, vals in entries:
        if vals is None: vals = offsets
        data = b"".join(struct.pack(e + ("H" if typ == 3 else "I"), v) for v in vals)
        if len(data) <= 4:
            ifd += struct.pack(e + "HHI", tag, typ, len(vals)) + data.ljust(4, b"\0")
        else:
            ifd += struct.pack(e + "HHII", tag, typ, len(vals), extra_at + len(tail)); tail += data
    blob += ifd + struct.pack(e + "I", 0) + tail
    blob[4:8] = struct.pack(e + "I", ifd_at)
    open(f"{out}/{name}.tif", "wb").write(blob)

names = []
for spp, extras in [(1, [None]), (2, [0, 1, 2]), (3, [None]), (4, [0, 1, 2])]:
    for bps in (8, 16):
        for extra in extras:
            for compression, predictor, tile, be in [(1, 1, None, False), (8, 2, None, True), (32773, 1, (16, 16), False), (8, 1, (16, 32), True)]:
                name = f"s{spp}_b{bps}_e{extra}_c{compression}_p{predictor}_t{bool(tile)}_be{int(be)}"
                write(name, spp, bps, extra=extra, compression=compression, predictor=predictor, tile=tile, be=be)
                names.append(name)
for bps in (8, 16):  # WhiteIsZero: Pillow inverts 8 bits ("L;I") but not 16 ("I;16")
    for compression, predictor, tile, be in [(1, 1, None, False), (8, 2, (16, 16), True)]:
        name = f"white_is_zero_b{bps}_c{compression}_be{int(be)}"
        write(name, 1, bps, photometric=0, compression=compression, predictor=predictor, tile=tile, be=be)
        names.append(name)
base = Image.linear_gradient("L").resize((W, H))
rgb = Image.merge("RGB", (base, base.rotate(90), base.transpose(0)))
for mode in ("L", "LA", "RGB", "RGBA", "I;16"):
    for compression in ("tiff_lzw", "tiff_adobe_deflate", "packbits", "raw"):
        name = f"pil_{mode.replace(';', '')}_{compression}"
        im = rgb.convert(mode) if mode != "I;16" else base.convert("I").point(lambda v: v * 300).convert("I;16")
        im.save(f"{out}/{name}.tif", compression=compression)
        names.append(name)
for name in names:
    try:
        with Image.open(f"{out}/{name}.tif") as im:
            data = im.convert("RGB").tobytes()
    except Exception as e:
        data = b"refused: " + type(e).__name__.encode()
    open(f"{out}/{name}.rgb", "wb").write(data)
open(f"{out}/names.txt", "w").write("\n".join(names))
