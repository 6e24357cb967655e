"""The harness the one-core protocol benches share (bench_opencv.py, bench_tensorflow.py,
bench_torchvision.py, bench_pillow_simd.py): their common options, and the measurement itself.

zoorepro runs in-process (`examples/preprocess_throughput`: the same decode + preprocess that
verify runs, from the files' bytes in memory, RAYON_NUM_THREADS=1) and, for reference, as the CLI
`zoorepro preprocess --recipe P FILES --out F.npy` (process start, reading the files and writing
the .npy included). After a warm-up the sides take turns --repeat times, so that a busy spell on a
shared machine hits all of them, and each keeps its best round. Standard library only: each bench
runs in the venv of its own reference library.
"""

import argparse
import glob
import json
import os
import subprocess
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def parser(description, presets=None, repeat=7):
    """--bin, --example, --files and --repeat, and --presets when a bench has several."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--bin", default=os.path.join(REPO, "target", "release", "zoorepro"))
    ap.add_argument("--example", default=os.path.join(REPO, "target", "release", "examples",
                                                      "preprocess_throughput"))
    ap.add_argument("--files", default=os.path.join(REPO, "..", "shared", "imagenet-sample",
                                                    "*", "*.JPEG"))
    if presets is not None:
        ap.add_argument("--presets", default=presets)
    ap.add_argument("--repeat", type=int, default=repeat)
    return ap


def files_and_blobs(pattern):
    """The files the pattern matches, sorted, and their bytes."""
    files = sorted(glob.glob(pattern))
    blobs = []
    for path in files:
        with open(path, "rb") as f:
            blobs.append(f.read())
    return files, blobs


def cpus():
    return len(os.sched_getaffinity(0))


def _timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def best_rates(args, files, preset, library, zoorepro_flags=()):
    """images/s of each side, its best round: "zoorepro" (in-process), "zoorepro cli", and each
    of `library` (name -> a function that processes every file once)."""
    env = dict(os.environ, RAYON_NUM_THREADS="1")
    with tempfile.TemporaryDirectory() as tmp:
        command = [args.bin, "preprocess", "--recipe", preset, *zoorepro_flags, *files,
                   "--out", os.path.join(tmp, "t.npy")]
        example = [args.example, "--rounds", "1", *zoorepro_flags, "--recipe", preset, *files]

        def cli():
            subprocess.run(command, check=True, env=env, capture_output=True)

        def inprocess():
            run = subprocess.run(example, check=True, env=env, capture_output=True, text=True)
            return json.loads(run.stdout)["images_per_second"]

        runs = dict(library, **{"zoorepro cli": cli})
        for fn in runs.values():
            fn()
        rates = {name: 0.0 for name in ["zoorepro", *runs]}
        for _ in range(args.repeat):
            rates["zoorepro"] = max(rates["zoorepro"], inprocess())
            for name, fn in runs.items():
                rates[name] = max(rates[name], len(files) / _timed(fn))
    return rates
