"""Small WebPs (lossless and lossy, with and without alpha, extended, animated, and an animation
whose first frame is smaller than its canvas and offset), each with what Pillow 13's
convert('RGB') makes of it. Run by webp.rs's unit tests: python webp_layouts.py DIR
"""
import io, struct, sys
from PIL import Image

out = sys.argv[1]
W, H = 37, 23
base = Image.linear_gradient("L").resize((W, H))
rgb = Image.merge("RGB", (base, base.rotate(90), base.transpose(0)))
rgba = rgb.copy()
rgba.putalpha(base.transpose(1))
names = []

def save(name, im, **kwargs):
    im.save(f"{out}/{name}.webp", "WEBP", **kwargs)
    names.append(name)

save("lossless_rgb", rgb, lossless=True)
save("lossless_rgba", rgba, lossless=True)
save("lossy_rgb", rgb, quality=80)
save("lossy_rgba", rgba, quality=80)
save("lossless_exif", rgb, lossless=True, exif=b"Exif\0\0MM\0*\0\0\0\x08\0\0")
save("anim_lossless", rgb, lossless=True, save_all=True, append_images=[rgba])
save("anim_lossy", rgba, quality=80, save_all=True, append_images=[rgb])

def chunk(id, payload):
    return id + struct.pack("<I", len(payload)) + payload + b"\0" * (len(payload) & 1)

def u24(v):
    return struct.pack("<I", v)[:3]

def frame_data(im, **kwargs):
    buffer = io.BytesIO()
    im.save(buffer, "WEBP", **kwargs)
    data = buffer.getvalue()[12:]
    chunks = b""
    while data:
        id, size = data[:4], struct.unpack("<I", data[4:8])[0]
        if id in (b"VP8L", b"VP8 ", b"ALPH"):
            chunks += chunk(id, data[8:8 + size])
        data = data[8 + size + (size & 1):]
    return chunks

for name, kwargs in [("offset_lossless", {"lossless": True}), ("offset_lossy_alpha", {"quality": 80})]:
    frame = rgba.crop((0, 0, 20, 11))
    cw, ch = 41, 29
    vp8x = chunk(b"VP8X", bytes([0x12, 0, 0, 0]) + u24(cw - 1) + u24(ch - 1))
    anim = chunk(b"ANIM", bytes([255, 255, 255, 255, 0, 0]))
    anmf = chunk(b"ANMF", u24(3) + u24(2) + u24(19) + u24(10) + u24(100) + bytes([0]) + frame_data(frame, **kwargs))
    body = b"WEBP" + vp8x + anim + anmf
    open(f"{out}/{name}.webp", "wb").write(b"RIFF" + struct.pack("<I", len(body)) + body)
    names.append(name)

for name in names:
    try:
        with Image.open(f"{out}/{name}.webp") as im:
            data = im.convert("RGB").tobytes()
    except Exception as e:
        data = b"refused: " + type(e).__name__.encode()
    open(f"{out}/{name}.rgb", "wb").write(data)
open(f"{out}/names.txt", "w").write("\n".join(names))
