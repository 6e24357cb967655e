#!/usr/bin/env python3
"""One-core images/s of zoorepro's OpenCV presets against opencv-python-headless itself, on the
same JPEG files. Run through scripts/bench/bench_opencv.sh, which pins everything to one core.

OpenCV (cv2.setNumThreads(1)) runs MLPerf Inference's pipeline as dataset.py does, from
cv2.imread(path) (the files are in the page cache after the warm-up) to the float32 tensor;
zoorepro runs in-process (`preprocess_throughput`: the same decode + preprocess that verify runs,
from the files' bytes in memory, RAYON_NUM_THREADS=1). The sides take turns --repeat times and
each keeps its best round. For reference, the CLI `zoorepro preprocess --recipe P FILES --out
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

import cv2

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "parity"))
from parity_opencv import PIPELINES  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


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
    ap.add_argument("--presets", default="mlperf-resnet50,mlperf-mobilenet")
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    cv2.setNumThreads(1)
    files = sorted(glob.glob(args.files))
    cpus = len(os.sched_getaffinity(0))
    print(f"{len(files)} files, {cpus} CPU(s) allowed, opencv {cv2.__version__}")
    for preset in args.presets.split(","):
        pipeline = PIPELINES[preset]

        def opencv():
            for path in files:
                pipeline(cv2.imread(path))

        with tempfile.TemporaryDirectory() as tmp:
            command = [args.bin, "preprocess", "--recipe", preset, *files,
                       "--out", os.path.join(tmp, "t.npy")]
            env = dict(os.environ, RAYON_NUM_THREADS="1")
            example = [args.example, "--rounds", "1", "--recipe", preset, *files]

            def cli():
                subprocess.run(command, check=True, env=env, capture_output=True)

            def inprocess():
                run = subprocess.run(example, check=True, env=env, capture_output=True, text=True)
                return json.loads(run.stdout)["images_per_second"]

            # Warm-up, then the sides take turns, so that a busy spell on a shared machine hits
            # all of them; each keeps its best round.
            runs = {"opencv": opencv, "zoorepro cli": cli}
            for fn in runs.values():
                fn()
            rates = {name: 0.0 for name in ["zoorepro", *runs]}
            for _ in range(args.repeat):
                rates["zoorepro"] = max(rates["zoorepro"], inprocess())
                for name, fn in runs.items():
                    rates[name] = max(rates[name], len(files) / timed(fn))
        print(f"{preset:17} zoorepro {rates['zoorepro']:6.1f} img/s (CLI with .npy "
              f"{rates['zoorepro cli']:6.1f})   opencv {rates['opencv']:6.1f} img/s   "
              f"zoorepro / opencv {rates['zoorepro'] / rates['opencv']:4.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
