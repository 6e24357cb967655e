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

import os
import sys

import cv2

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "parity"))
from parity_opencv import PIPELINES  # noqa: E402
import turns  # noqa: E402  (scripts/bench/turns.py)

def main():
    args = turns.parser(__doc__, presets="mlperf-resnet50,mlperf-mobilenet").parse_args()
    cv2.setNumThreads(1)
    files, _ = turns.files_and_blobs(args.files)
    print(f"{len(files)} files, {turns.cpus()} CPU(s) allowed, opencv {cv2.__version__}")
    for preset in args.presets.split(","):
        pipeline = PIPELINES[preset]

        def opencv():
            for path in files:
                pipeline(cv2.imread(path))

        rates = turns.best_rates(args, files, preset, {"opencv": opencv})
        print(f"{preset:17} zoorepro {rates['zoorepro']:6.1f} img/s (CLI with .npy "
              f"{rates['zoorepro cli']:6.1f})   opencv {rates['opencv']:6.1f} img/s   "
              f"zoorepro / opencv {rates['zoorepro'] / rates['opencv']:4.2f}x   "
              f"(entropy floor {rates['entropy floor']:6.1f} img/s: at most "
              f"{turns.bound(rates, 'opencv'):4.2f}x)")
    return 0

if __name__ == "__main__":
    sys.exit(main())
