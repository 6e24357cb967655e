#!/usr/bin/env python3
"""One-core images/s of zoorepro's TensorFlow presets against tensorflow-cpu itself, on the same
JPEG files. Run through scripts/bench/bench_tensorflow.sh, which pins everything to one core.

TensorFlow runs with intra- and inter-op threads = 1, two ways: eagerly (op by op, as a script
would) and as one tf.function graph (as a tf.data map would); each is timed over the whole file
list after a warm-up pass, best of --repeat. zoorepro is timed as the CLI, `zoorepro preprocess
--recipe P FILES --out F.npy` (process start, reading the files and writing the .npy included),
with RAYON_NUM_THREADS=1, best of --repeat.
"""

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
    ap.add_argument("--files", default=os.path.join(REPO, "..", "shared", "imagenet-sample",
                                                    "*", "*.JPEG"))
    ap.add_argument("--presets", default="tf-inception-299,tf-inception-224")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    files = sorted(glob.glob(args.files))
    cpus = len(os.sched_getaffinity(0))
    print(f"{len(files)} files, {cpus} CPU(s) allowed, tensorflow {tf.__version__}")
    for preset in args.presets.split(","):
        size = int(preset.rsplit("-", 1)[1])
        eager = pipeline(size)
        graph = tf.function(eager)

        def tf_eager():
            for path in files:
                eager(tf.io.read_file(path)).numpy()

        def tf_graph():
            for path in files:
                graph(tf.io.read_file(path)).numpy()

        with tempfile.TemporaryDirectory() as tmp:
            command = [args.bin, "preprocess", "--recipe", preset, *files,
                       "--out", os.path.join(tmp, "t.npy")]
            env = dict(os.environ, RAYON_NUM_THREADS="1")

            def ours():
                subprocess.run(command, check=True, env=env, capture_output=True)

            rates = {
                "zoorepro": best_rate(len(files), args.repeat, ours),
                "tf eager": best_rate(len(files), args.repeat, tf_eager),
                "tf graph": best_rate(len(files), args.repeat, tf_graph),
            }
        fastest_tf = max(rates["tf eager"], rates["tf graph"])
        print(f"{preset:17} zoorepro {rates['zoorepro']:7.1f} img/s   tensorflow eager "
              f"{rates['tf eager']:7.1f} img/s, tf.function {rates['tf graph']:7.1f} img/s   "
              f"speed-up vs the faster TF {rates['zoorepro'] / fastest_tf:4.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
