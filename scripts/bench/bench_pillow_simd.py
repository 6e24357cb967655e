#!/usr/bin/env python3
"""One-core images/s of `zoorepro --pillow-compat simd` against Pillow-SIMD 12.1.1.post0 on the
same JPEG files. Run through scripts/bench/bench_pillow_simd.sh, which pins everything to one
core.

Both sides start from the files' bytes in memory. Pillow-SIMD runs the pipeline the parity
script checks (scripts/parity/parity.py): Image.open().convert('RGB'), the preset's resize and
centre crop, then the NumPy float32 normalisation; its time without the NumPy part (decode +
resize + crop only, the library's own share) is printed too. zoorepro runs in-process
(`preprocess_throughput --pillow-compat simd`, the same decode + preprocess that verify runs,
RAYON_NUM_THREADS=1). The sides take turns --repeat times and each keeps its best round. For
reference, the CLI `zoorepro preprocess --pillow-compat simd --recipe P FILES --out F.npy` is
timed too: process start, reading the files and writing the .npy included.

--pillow-compat 13 (or 12) measures the plain Pillow pipelines the same way: run it with a Python
whose Pillow is that release (ZOOREPRO_SIMD_PYTHON=.venv/bin/python, the oracle's Pillow 13), and
zoorepro reproduces that release instead of Pillow-SIMD.
"""

import io
import os
import sys

import numpy as np
import PIL
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "scripts", "parity"))
import parity  # noqa: E402
import turns  # noqa: E402  (scripts/bench/turns.py)


def library_only(blob, p):
    """Pillow-SIMD's share of the preset: decode, convert, resize, crop (as a uint8 array)."""
    with Image.open(io.BytesIO(blob)) as im:
        img = im.convert("RGB")
    if p["family"] == "torchvision":
        img = parity.torchvision_resize(img, p["resize"], p.get("filter", Image.BILINEAR))
        return parity.torchvision_center_crop(np.asarray(img), p["crop"])
    size = (p["size"], p["size"])
    return np.asarray(img.resize(size, Image.NEAREST) if img.size != size else img)


def whole(blob, name):
    with Image.open(io.BytesIO(blob)) as im:
        img = im.convert("RGB")
    return parity.preset_tensor_from_rgb(img, name)


def main():
    ap = turns.parser(__doc__, presets="torchvision,timm-bicubic,torchvision-inception", repeat=5)
    ap.add_argument("--pillow-compat", default="simd", choices=["simd", "12", "13"])
    args = ap.parse_args()
    library = "pillow-simd" if args.pillow_compat == "simd" else "pillow"
    files, blobs = turns.files_and_blobs(args.files)
    print(f"{len(files)} files, {turns.cpus()} CPU(s) allowed, {library} {PIL.__version__}, "
          f"NumPy {np.__version__}, zoorepro --pillow-compat {args.pillow_compat}")
    for preset in args.presets.split(","):
        p = parity.PRESETS[preset]

        def simd_library():
            for blob in blobs:
                library_only(blob, p)

        def simd_whole():
            for blob in blobs:
                whole(blob, preset)

        rates = turns.best_rates(args, files, preset,
                                 {"simd": simd_whole, "simd library": simd_library},
                                 zoorepro_flags=("--pillow-compat", args.pillow_compat))
        print(f"{preset:22} zoorepro {rates['zoorepro']:6.1f} img/s (CLI with .npy "
              f"{rates['zoorepro cli']:6.1f})   {library} + NumPy {rates['simd']:6.1f} img/s "
              f"(decode + resize + crop alone {rates['simd library']:6.1f})   zoorepro / "
              f"{library} {rates['zoorepro'] / rates['simd']:4.2f}x "
              f"({rates['zoorepro'] / rates['simd library']:4.2f}x its library share)   "
              f"(entropy floor {rates['entropy floor']:6.1f} img/s: at most "
              f"{turns.bound(rates, 'simd'):4.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
