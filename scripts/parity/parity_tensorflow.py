#!/usr/bin/env python3
"""Parity of zoorepro's TensorFlow presets (tf-inception-299, tf-inception-224) with the real
tensorflow-cpu (scripts/requirements-protocols.txt, installed in a venv outside the repo).

For every file (default: the shared ImageNet sample and the public JPEG corpus
tests/jpeg-corpus/files), TensorFlow computes

    img = tf.io.decode_jpeg(tf.io.read_file(path), channels=3)
    img = tf.image.convert_image_dtype(img, tf.float32)
    img = tf.image.central_crop(img, 0.875)
    img = tf.image.resize(img, [size, size], method="bilinear")
    img = (img - 0.5) * 2.0

and zoorepro `preprocess --recipe tf-inception-<size>` must accept exactly the files TensorFlow
accepts, with float32 tensors whose bytes are equal (max abs diff 0). Prints, per preset, the
files compared, the acceptance disagreements, the files whose tensors differ and the largest
absolute difference. Disagreements listed in scripts/parity/tensorflow_known_differences.tsv
(libjpeg-turbo 2.1.4, bundled by TensorFlow, against 3.1.0, linked by zoorepro: see
docs/pipelines/tensorflow.md) are counted apart. Exit status 0 only when there is no other
disagreement. libjpeg's own warnings, which TensorFlow prints, go to stderr: add 2>/dev/null.

    /work/venv-protocols/bin/python scripts/parity/parity_tensorflow.py [--bin target/release/zoorepro]
        [--files GLOB ...] [--presets tf-inception-299,tf-inception-224] [--sha256 FILE]

--sha256 FILE writes TensorFlow's tensor digests of the shared sample (for tests/presets/tf_presets.rs).
Run by hand; CI never installs TensorFlow.
"""

import argparse
import glob
import hashlib
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import library_parity  # noqa: E402  (scripts/parity/library_parity.py)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLE = os.path.join(REPO, "..", "shared", "imagenet-sample")
CORPUS = os.path.join(REPO, "tests", "jpeg-corpus", "files")
KNOWN = os.path.join(REPO, "scripts", "parity", "tensorflow_known_differences.tsv")


def known_differences():
    """File name -> kind ('refused' or 'pixels') of the disagreements explained by the libjpeg-turbo
    versions."""
    with open(KNOWN) as f:
        rows = [line.rstrip("\n").split("\t") for line in f][1:]
    return {row[0]: row[1] for row in rows if row}


def reference(path, size):
    """TensorFlow's tensor for one file, or None when TensorFlow refuses it."""
    try:
        img = tf.io.decode_jpeg(tf.io.read_file(path), channels=3)
        img = tf.image.convert_image_dtype(img, tf.float32)
        img = tf.image.central_crop(img, 0.875)
        img = tf.image.resize(img, [size, size], method="bilinear")
        return ((img - 0.5) * 2.0).numpy()
    except (tf.errors.InvalidArgumentError, tf.errors.OpError, ValueError):
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=os.path.join(REPO, "target", "release", "zoorepro"))
    ap.add_argument("--files", nargs="*", help="globs (default: the shared sample and corpus)")
    ap.add_argument("--presets", default="tf-inception-299,tf-inception-224")
    ap.add_argument("--sha256", help="write the sample's TensorFlow digests to this JSON file")
    ap.add_argument("--json", help="write the full report to this JSON file")
    args = ap.parse_args()
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)

    sample = sorted(glob.glob(os.path.join(SAMPLE, "*", "*.JPEG")))
    if args.files:
        groups = {"files": sorted(f for g in args.files for f in glob.glob(g))}
    else:
        groups = {"sample": sample, "corpus": sorted(glob.glob(os.path.join(CORPUS, "*")))}
    print(f"tensorflow {tf.__version__}, numpy {np.__version__}")
    known = known_differences()
    bad = 0
    explained = 0
    digests = {}
    full = {}
    for preset in args.presets.split(","):
        size = int(preset.rsplit("-", 1)[1])
        for group, files in groups.items():
            report, refs = library_parity.compare(
                args.bin, preset, files, lambda path: reference(path, size), "tf")
            full[f"{preset}/{group}"] = report
            found = report["acceptance"] + report["differ"]
            expected = [row for row in found if os.path.basename(row[0]) in known]
            explained += len(expected)
            bad += len(found) - len(expected)
            print(f"{preset:17} {group:7} files {report['files']:5}  tf accepts "
                  f"{report['tf_accepts']:5}  compared {report['compared']:5}  acceptance "
                  f"disagreements {len(report['acceptance']):3}  tensors differing "
                  f"{len(report['differ']):3}  max abs diff {report['max_abs_diff']:.3g}")
            for row in found:
                if os.path.basename(row[0]) not in known:
                    print("   ", *row)
            if expected:
                print(f"    ({len(expected)} of them known libjpeg-turbo 2.1.4 vs 3.1.0 "
                      f"differences, {os.path.relpath(KNOWN, REPO)})")
            if group == "sample":
                digests[preset] = {
                    os.path.relpath(p, SAMPLE): hashlib.sha256(refs[p].tobytes()).hexdigest()
                    for p in files if refs[p] is not None}
    if args.sha256:
        with open(args.sha256, "w") as f:
            json.dump({"tensorflow": tf.__version__, "digests": digests}, f, indent=1,
                      sort_keys=True)
            f.write("\n")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(full, f, indent=1)
    print(f"{explained} known libjpeg-turbo version differences; "
          + ("OK: no other disagreement" if bad == 0 else f"{bad} other disagreements"))
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
