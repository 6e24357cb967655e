#!/usr/bin/env python3
"""One-core images/s of zoorepro's TensorFlow presets against tensorflow-cpu itself, on the same
JPEG files. Run through scripts/bench/bench_tensorflow.sh, which pins everything to one core.

Both sides start from the files' bytes in memory, as examples/preprocess_throughput.rs does:
TensorFlow (intra- and inter-op threads = 1) eagerly, op by op as a script would, and as one
tf.function graph, as a tf.data map would, each timed over the whole file list after a warm-up
pass; zoorepro in-process (`preprocess_throughput`, the same decode + preprocess that verify
runs, RAYON_NUM_THREADS=1). The sides take turns --repeat times and each keeps its best round. For reference, the CLI
`zoorepro preprocess --recipe P FILES --out F.npy` is timed too: process start, reading the
files and writing the .npy (1 MiB per image at 299) included.
"""

import argparse
import glob
import json
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
    ap.add_argument("--repeat", type=int, default=7)
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
            example = [args.example, "--rounds", "1", "--recipe", preset, *files]

            def cli():
                subprocess.run(command, check=True, env=env, capture_output=True)

            def inprocess():
                run = subprocess.run(example, check=True, env=env, capture_output=True, text=True)
                return json.loads(run.stdout)["images_per_second"]

            # Warm-up, then the sides take turns, so that a busy spell on a shared machine hits
            # all of them; each keeps its best round.
            runs = {"tf eager": tf_eager, "tf graph": tf_graph, "zoorepro cli": cli}
            for fn in runs.values():
                fn()
            rates = {name: 0.0 for name in ["zoorepro", *runs]}
            for _ in range(args.repeat):
                rates["zoorepro"] = max(rates["zoorepro"], inprocess())
                for name, fn in runs.items():
                    rates[name] = max(rates[name], len(files) / timed(fn))
        fastest_tf = max(rates["tf eager"], rates["tf graph"])
        print(f"{preset:17} zoorepro {rates['zoorepro']:6.1f} img/s (CLI with .npy "
              f"{rates['zoorepro cli']:6.1f})   tensorflow eager {rates['tf eager']:6.1f} img/s, "
              f"tf.function {rates['tf graph']:6.1f} img/s   zoorepro / faster TF "
              f"{rates['zoorepro'] / fastest_tf:4.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
