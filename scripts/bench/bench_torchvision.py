#!/usr/bin/env python3
"""One-core images/s of zoorepro's torchvision-tensor preset against torch + torchvision
themselves, on the same JPEG files. Run through scripts/bench/bench_torchvision.sh, which pins
everything to one core.

Both sides start from the files' bytes in memory: torchvision (torch.set_num_threads(1)) runs
decode_jpeg(mode=RGB) then the v2 transforms on each uint8 tensor, as a Dataset's __getitem__
would; zoorepro runs in-process (examples/preprocess_throughput: the same decode + preprocess
that verify runs, RAYON_NUM_THREADS=1). The sides take turns --repeat times and each keeps its
best round. For reference, the CLI `zoorepro preprocess --recipe torchvision-tensor FILES --out
F.npy` is timed too: process start, reading the files and writing the .npy included.
"""

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings

import torch
import torchvision
from torchvision.io import ImageReadMode, decode_jpeg
from torchvision.transforms import v2

warnings.filterwarnings("ignore")  # torchvision 0.29 deprecates its decoders

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PRESET = "torchvision-tensor"
TRANSFORM = v2.Compose([
    v2.Resize(256, antialias=True),
    v2.CenterCrop(224),
    v2.ToDtype(torch.float32, scale=True),
    v2.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
])


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
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    torch.set_num_threads(1)
    files = sorted(glob.glob(args.files))
    blobs = []
    for path in files:
        with open(path, "rb") as f:
            blobs.append(torch.frombuffer(bytearray(f.read()), dtype=torch.uint8))
    cpus = len(os.sched_getaffinity(0))
    print(f"{len(files)} files, {cpus} CPU(s) allowed, torch {torch.__version__}, torchvision "
          f"{torchvision.__version__}, cpu capability {torch.backends.cpu.get_cpu_capability()}")

    def torchvision_side():
        for data in blobs:
            TRANSFORM(decode_jpeg(data, mode=ImageReadMode.RGB))

    with tempfile.TemporaryDirectory() as tmp:
        command = [args.bin, "preprocess", "--recipe", PRESET, *files,
                   "--out", os.path.join(tmp, "t.npy")]
        env = dict(os.environ, RAYON_NUM_THREADS="1")
        example = [args.example, "--rounds", "1", "--recipe", PRESET, *files]

        def cli():
            subprocess.run(command, check=True, env=env, capture_output=True)

        def inprocess():
            run = subprocess.run(example, check=True, env=env, capture_output=True, text=True)
            return json.loads(run.stdout)["images_per_second"]

        # Warm-up, then the sides take turns, so that a busy spell on a shared machine hits all
        # of them; each keeps its best round.
        runs = {"torchvision": torchvision_side, "zoorepro cli": cli}
        for fn in runs.values():
            fn()
        rates = {name: 0.0 for name in ["zoorepro", *runs]}
        for _ in range(args.repeat):
            rates["zoorepro"] = max(rates["zoorepro"], inprocess())
            for name, fn in runs.items():
                rates[name] = max(rates[name], len(files) / timed(fn))
    print(f"{PRESET} zoorepro {rates['zoorepro']:6.1f} img/s (CLI with .npy "
          f"{rates['zoorepro cli']:6.1f})   torchvision {rates['torchvision']:6.1f} img/s   "
          f"zoorepro / torchvision {rates['zoorepro'] / rates['torchvision']:4.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
