#!/usr/bin/env python3
"""One-core images/s of zoorepro's TensorFlow presets against tensorflow-cpu itself, on the same
JPEG files. Run through scripts/bench/bench_tensorflow.sh, which pins everything to one core.

Both sides start from the files' bytes in memory, as examples/preprocess_throughput.rs does:
TensorFlow (intra- and inter-op threads = 1) eagerly, op by op as a script would, and as one
tf.function graph, as a tf.data map would, each timed over the whole file list after a warm-up
pass, best of --repeat; zoorepro in-process (`preprocess_throughput --rounds --repeat`, the
same decode + preprocess that verify runs, RAYON_NUM_THREADS=1). For reference, the CLI
`zoorepro preprocess --recipe P FILES --out F.npy` is timed too: process start, reading the
files and writing the .npy (1 MiB per image at 299) included, best of --repeat.
"""

import json

import argparse
import glob
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import tensorflow as tf  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def pipeline(size):
    def run(contents):
        img = tf.io.decode_jpeg(contents, channels=3)
        img = tf.image.convert_image_dtype(img, tf.float32)
        img = tf.image.central_crop(img, 0.875)
        img = tf.image.resize(img, [size, size], method="bilinear")
        return (img - 0.5) * 2.0
    return run


def best_rate(count, repeat, once):
    once()  # warm-up: graph tracing, caches
    best = min(timed(once) for _ in range(repeat))
    return count / best


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
    ap.add_argument("--presets", default="tf-inception-299,tf-inception-224")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    files = sorted(glob.glob(args.files))
    blobs = []
    for path in files:
        with open(path, "rb") as f:
            blobs.append(tf.constant(f.read()))
    cpus = len(os.sched_getaffinity(0))
    print(f"{len(files)} files, {cpus} CPU(s) allowed, tensorflow {tf.__version__}")
    for preset in args.presets.split(","):
        size = int(preset.rsplit("-", 1)[1])
        eager = pipeline(size)
        graph = tf.function(eager)

        def tf_eager():
            for contents in blobs:
                eager(contents).numpy()

        def tf_graph():
            for contents in blobs:
                graph(contents).numpy()

        with tempfile.TemporaryDirectory() as tmp:
            command = [args.bin, "preprocess", "--recipe", preset, *files,
                       "--out", os.path.join(tmp, "t.npy")]
            env = dict(os.environ, RAYON_NUM_THREADS="1")

            def ours():
                subprocess.run(command, check=True, env=env, capture_output=True)

            inprocess = subprocess.run(
                [args.example, "--rounds", str(args.repeat), "--recipe", preset, *files],
                check=True, env=env, capture_output=True, text=True)
            rates = {
                "zoorepro": json.loads(inprocess.stdout)["images_per_second"],
                "zoorepro cli": best_rate(len(files), args.repeat, ours),
                "tf eager": best_rate(len(files), args.repeat, tf_eager),
                "tf graph": best_rate(len(files), args.repeat, tf_graph),
            }
        fastest_tf = max(rates["tf eager"], rates["tf graph"])
        print(f"{preset:17} zoorepro {rates['zoorepro']:6.1f} img/s (CLI with .npy "
              f"{rates['zoorepro cli']:6.1f})   tensorflow eager {rates['tf eager']:6.1f} img/s, "
              f"tf.function {rates['tf graph']:6.1f} img/s   zoorepro / faster TF "
              f"{rates['zoorepro'] / fastest_tf:4.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
