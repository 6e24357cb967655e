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
"""

import argparse
import glob
import io
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import PIL
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "scripts", "parity"))
import parity  # noqa: E402


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


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(REPO, "target", "release", "zoorepro"))
    ap.add_argument("--example", default=os.path.join(REPO, "target", "release", "examples",
                                                      "preprocess_throughput"))
    ap.add_argument("--files", default=os.path.join(REPO, "..", "shared", "imagenet-sample",
                                                    "*", "*.JPEG"))
    ap.add_argument("--presets", default="torchvision,timm-bicubic,torchvision-inception")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    files = sorted(glob.glob(args.files))
    blobs = []
    for path in files:
        with open(path, "rb") as f:
            blobs.append(f.read())
    cpus = len(os.sched_getaffinity(0))
    print(f"{len(files)} files, {cpus} CPU(s) allowed, Pillow-SIMD {PIL.__version__}, "
          f"NumPy {np.__version__}")
    for preset in args.presets.split(","):
        p = parity.PRESETS[preset]

        def simd_library():
            for blob in blobs:
                library_only(blob, p)

        def simd_whole():
            for blob in blobs:
                whole(blob, preset)

        with tempfile.TemporaryDirectory() as tmp:
            env = dict(os.environ, RAYON_NUM_THREADS="1")
            command = [args.bin, "preprocess", "--recipe", preset, "--pillow-compat", "simd",
                       *files, "--out", os.path.join(tmp, "t.npy")]
            example = [args.example, "--rounds", "1", "--pillow-compat", "simd",
                       "--recipe", preset, *files]

            def cli():
                subprocess.run(command, check=True, env=env, capture_output=True)

            def inprocess():
                run = subprocess.run(example, check=True, env=env, capture_output=True, text=True)
                return json.loads(run.stdout)["images_per_second"]

            # Warm-up, then the sides take turns, so that a busy spell on a shared machine hits
            # all of them; each keeps its best round.
            runs = {"simd": simd_whole, "simd library": simd_library, "zoorepro cli": cli}
            for fn in runs.values():
                fn()
            rates = {name: 0.0 for name in ["zoorepro", *runs]}
            for _ in range(args.repeat):
                rates["zoorepro"] = max(rates["zoorepro"], inprocess())
                for name, fn in runs.items():
                    rates[name] = max(rates[name], len(files) / timed(fn))
        print(f"{preset:22} zoorepro {rates['zoorepro']:6.1f} img/s (CLI with .npy "
              f"{rates['zoorepro cli']:6.1f})   pillow-simd + NumPy {rates['simd']:6.1f} img/s "
              f"(decode + resize + crop alone {rates['simd library']:6.1f})   zoorepro / "
              f"pillow-simd {rates['zoorepro'] / rates['simd']:4.2f}x "
              f"({rates['zoorepro'] / rates['simd library']:4.2f}x its library share)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
