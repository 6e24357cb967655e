"""The harness the one-core protocol benches share (bench_opencv.py, bench_tensorflow.py,
bench_torchvision.py, bench_pillow_simd.py): their common options, and the measurement itself.

zoorepro runs in-process (`examples/preprocess_throughput`: the same decode + preprocess that
verify runs, from the files' bytes in memory, RAYON_NUM_THREADS=1) and, for reference, as the CLI
`zoorepro preprocess --recipe P FILES --out F.npy` (process start, reading the files and writing
the .npy included). After a warm-up the sides take turns --repeat times, so that a busy spell on a
shared machine hits all of them, and each keeps its best round. Standard library only: each bench
runs in the venv of its own reference library.

Beside them runs the entropy floor (entropy_floor.c): libjpeg-turbo's Huffman decoding of the same
files and nothing else, which every bit-exact pipeline must run in full (acceptance depends on
reading each file to its end) and which no pipeline can speed up without another entropy decoder.
`bound` turns it into the most any such pipeline can beat a library by: library time / floor time.
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


def entropy_floor_binary():
    """Builds entropy_floor.c against turbojpeg-sys's libjpeg-turbo in target/ (zoorepro's own
    decoder) and returns its path."""
    build = os.path.join(REPO, "target", "release", "build")
    outs = sorted(glob.glob(os.path.join(build, "turbojpeg-sys-*", "out")),
                  key=lambda p: os.path.getmtime(p), reverse=True)
    outs = [o for o in outs if os.path.exists(os.path.join(o, "lib", "libjpeg.a"))]
    if not outs:
        raise SystemExit("no libjpeg.a under target/release/build/turbojpeg-sys-*: "
                         "run cargo build --release first")
    source = os.path.join(REPO, "scripts", "bench", "entropy_floor.c")
    binary = os.path.join(REPO, "target", "release", "entropy_floor")
    library = os.path.join(outs[0], "lib", "libjpeg.a")
    if not os.path.exists(binary) or os.path.getmtime(binary) < max(
            os.path.getmtime(source), os.path.getmtime(library)):
        subprocess.run([os.environ.get("CC", "cc"), "-O2", "-I", os.path.join(outs[0], "include"),
                        source, library, "-o", binary], check=True)
    return binary


def bound(rates, library):
    """The most a pipeline decoding with libjpeg-turbo can beat `library` by: its time over the
    entropy floor's."""
    return rates["entropy floor"] / rates[library]


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

        floor_command = [entropy_floor_binary(), "1", *files]

        def floor():
            run = subprocess.run(floor_command, check=True, capture_output=True, text=True)
            return json.loads(run.stdout)["images_per_second"]

        runs = dict(library, **{"zoorepro cli": cli})
        for fn in runs.values():
            fn()
        rates = {name: 0.0 for name in ["zoorepro", "entropy floor", *runs]}
        for _ in range(args.repeat):
            rates["zoorepro"] = max(rates["zoorepro"], inprocess())
            rates["entropy floor"] = max(rates["entropy floor"], floor())
            for name, fn in runs.items():
                rates[name] = max(rates[name], len(files) / _timed(fn))
    return rates
