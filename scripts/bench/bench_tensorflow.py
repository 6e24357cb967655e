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

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import tensorflow as tf  # noqa: E402
import turns  # noqa: E402  (scripts/bench/turns.py)



def pipeline(size):
    def run(contents):
        img = tf.io.decode_jpeg(contents, channels=3)
        img = tf.image.convert_image_dtype(img, tf.float32)
        img = tf.image.central_crop(img, 0.875)
        img = tf.image.resize(img, [size, size], method="bilinear")
        return (img - 0.5) * 2.0
    return run


def main():
    args = turns.parser(__doc__, presets="tf-inception-299,tf-inception-224").parse_args()
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    files, raw = turns.files_and_blobs(args.files)
    blobs = [tf.constant(data) for data in raw]
    print(f"{len(files)} files, {turns.cpus()} CPU(s) allowed, tensorflow {tf.__version__}")
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

        rates = turns.best_rates(args, files, preset, {"tf eager": tf_eager, "tf graph": tf_graph})
        fastest_tf = max(rates["tf eager"], rates["tf graph"])
        print(f"{preset:17} zoorepro {rates['zoorepro']:6.1f} img/s (CLI with .npy "
              f"{rates['zoorepro cli']:6.1f})   tensorflow eager {rates['tf eager']:6.1f} img/s, "
              f"tf.function {rates['tf graph']:6.1f} img/s   zoorepro / faster TF "
              f"{rates['zoorepro'] / fastest_tf:4.2f}x   (entropy floor "
              f"{rates['entropy floor']:6.1f} img/s: at most "
              f"{rates['entropy floor'] / fastest_tf:4.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
