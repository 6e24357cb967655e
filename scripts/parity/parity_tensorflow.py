#!/usr/bin/env python3
"""Parity of zoorepro's TensorFlow presets with the real tensorflow-cpu, keras and TF-slim code
(scripts/requirements-protocols.txt, installed in a venv outside the repo).

For every file (default: the shared ImageNet sample, the public JPEG corpus
tests/jpeg-corpus/files and its generated cases tests/jpeg-corpus/made), the real code computes,
per preset:

    tf-inception-<size>      img = tf.io.decode_jpeg(tf.io.read_file(path), channels=3)
                             img = tf.image.convert_image_dtype(img, tf.float32)
                             img = tf.image.central_crop(img, 0.875)
                             img = tf.image.resize(img, [size, size], method="bilinear")
                             img = (img - 0.5) * 2.0
    slim-inception-<size>    inception_preprocessing.preprocess_image(img, size, size,
                             is_training=False) on the decode_jpeg above
    slim-vgg-224             vgg_preprocessing.preprocess_image(img, 224, 224,
                             is_training=False) (resize_side 256)
    keras-dataset-<mode>-<size>
                             keras's own _load_image_tf(path, (size, size), 3, "bilinear",
                             "channels_last") mapped over a tf.data.Dataset (what
                             image_dataset_from_directory(image_size=(size, size)) maps over its
                             files), then keras.applications.<model>.preprocess_input on the
                             tensor (caffe: resnet50, tf: inception_v3, torch: densenet, none:
                             efficientnet); the NumPy path of preprocess_input is computed too
                             and must give the same bits; on the shared sample (an ImageFolder
                             tree) image_dataset_from_directory itself must give what the map
                             gives

keras-dataset-torch-224 and keras-dataset-none-224 are no presets: they run as inline recipes
of a scratch home's manifest (library_parity.inline_home).

TF-slim's preprocessing is on no package registry: --slim-checkout names a checkout of
github.com/tensorflow/models (research/slim/preprocessing/ is all that is read; a partial
checkout is enough); without it the slim presets are left out, and said so. Its files are TF1
code, run eagerly under TensorFlow 2 with one shim: `import tensorflow as tf` in
inception_preprocessing.py is given tf.compat.v1 while the module loads (vgg_preprocessing.py
imports tensorflow.compat.v1 itself). preprocessing_factory.py is not imported (it needs
tf.contrib.slim, gone in TF2): its map (inception_v3 -> inception_preprocessing, resnet_v1_50 and
vgg_16 -> vgg_preprocessing, called through preprocess_image) is followed by hand.

zoorepro `preprocess --recipe <preset>` must accept exactly the files the real code accepts, with
float32 tensors whose bytes are equal (max abs diff 0). Prints, per preset and group, the files
compared, the one-sided acceptances, the files whose tensors differ and the largest absolute
difference. Disagreements listed in scripts/parity/tensorflow_known_differences.tsv
(libjpeg-turbo 2.1.4, bundled by TensorFlow, against 3.1.0, linked by zoorepro: see
docs/pipelines/tensorflow.md) are counted apart. Exit status 0 only when there is no other
disagreement. libjpeg's own warnings, which TensorFlow prints, go to stderr: add 2>/dev/null.
Run it with TF_ENABLE_ONEDNN_OPTS=0 and =1 to see that oneDNN changes nothing here (the header
says which).

    /work/venv-protocols/bin/python scripts/parity/parity_tensorflow.py [--bin target/release/zoorepro]
        [--slim-checkout /path/to/tensorflow-models] [--files GLOB ...]
        [--presets tf-inception-299,...] [--sha256 FILE] [--json FILE]

--sha256 FILE writes the real code's tensor digests of the shared sample for every preset run
(for tests/presets/tf_presets.rs). Run by hand; CI never installs TensorFlow.
"""

import argparse
import glob
import hashlib
import importlib.util
import json
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402
from keras.applications import densenet, efficientnet, inception_v3, resnet50  # noqa: E402
from keras.src.utils import image_dataset_utils  # noqa: E402

import library_parity  # noqa: E402  (scripts/parity/library_parity.py)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLE = os.path.join(REPO, "..", "shared", "imagenet-sample")
CORPUS = os.path.join(REPO, "tests", "jpeg-corpus", "files")
MADE = os.path.join(REPO, "tests", "jpeg-corpus", "made")
KNOWN = os.path.join(REPO, "scripts", "parity", "tensorflow_known_differences.tsv")
PRESETS = ("tf-inception-299,tf-inception-224,slim-inception-299,slim-inception-224,slim-vgg-224,"
           "keras-dataset-caffe-224,keras-dataset-tf-299,keras-dataset-torch-224,"
           "keras-dataset-none-224")
# Keras's preprocess_input per mode, from the models that use it.
KERAS_MODES = {"caffe": resnet50.preprocess_input, "tf": inception_v3.preprocess_input,
               "torch": densenet.preprocess_input, "none": efficientnet.preprocess_input}
# The keras-dataset recipes that are no preset: zoorepro runs them from a scratch home.
INLINE = {
    "keras-dataset-torch-224": {"scale": 255.0, "mean": [0.485, 0.456, 0.406],
                                "std": [0.229, 0.224, 0.225], "channels": "rgb"},
    "keras-dataset-none-224": {"scale": 1.0, "mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0],
                               "channels": "rgb"},
}


def inline_recipes():
    """The INLINE recipes as recipe objects."""
    return [dict(name=name, description="parity: " + name, resize_mode="squash",
                 resize_size=224, crop_size=224, filter="BILINEAR", layout="nhwc",
                 library="tensorflow", variant="keras-dataset", **fields)
            for name, fields in INLINE.items()]


def known_differences():
    """File name -> kind ('refused' or 'pixels') of the disagreements explained by the libjpeg-turbo
    versions."""
    with open(KNOWN) as f:
        rows = [line.rstrip("\n").split("\t") for line in f][1:]
    return {row[0]: row[1] for row in rows if row}


def load_slim(checkout):
    """TF-slim's inception_preprocessing and vgg_preprocessing from a tensorflow/models checkout,
    loaded with the one shim the docstring names."""
    modules = {}
    for name in ("inception_preprocessing", "vgg_preprocessing"):
        path = os.path.join(checkout, "research", "slim", "preprocessing", name + ".py")
        spec = importlib.util.spec_from_file_location("slim_" + name, path)
        module = importlib.util.module_from_spec(spec)
        real = sys.modules["tensorflow"]
        sys.modules["tensorflow"] = tf.compat.v1
        try:
            spec.loader.exec_module(module)
        finally:
            sys.modules["tensorflow"] = real
        modules[name] = module
    return modules


def decode(path):
    return tf.io.decode_jpeg(tf.io.read_file(path), channels=3)


LOADERS = {}


def keras_load(path, size):
    """Keras's own per-file loader, traced into a graph as image_dataset_from_directory's
    Dataset.map traces it (once per size: a Dataset per file would trace it for every file)."""
    if size not in LOADERS:
        LOADERS[size] = tf.function(
            lambda x: image_dataset_utils._load_image_tf(x, (size, size), 3, "bilinear",
                                                         "channels_last"),
            input_signature=[tf.TensorSpec([], tf.string)])
    return LOADERS[size](tf.constant(path))


NUMPY_PATH_DIFFERS = []


def keras_reference(path, size, mode):
    """The tensor path of preprocess_input on Keras's loaded image; its NumPy path must agree
    (files where it does not go to NUMPY_PATH_DIFFERS)."""
    img = keras_load(path, size)
    tensor = np.asarray(KERAS_MODES[mode](tf.identity(img)), dtype=np.float32)
    array = KERAS_MODES[mode](img.numpy().copy())
    if array.tobytes() != tensor.tobytes():
        NUMPY_PATH_DIFFERS.append((path, mode, size))
    return tensor


def reference(path, preset, slim):
    """The real code's tensor for one file, or None when it refuses the file."""
    size = int(preset.rsplit("-", 1)[1])
    try:
        if preset.startswith("tf-inception-"):
            img = tf.image.convert_image_dtype(decode(path), tf.float32)
            img = tf.image.central_crop(img, 0.875)
            img = tf.image.resize(img, [size, size], method="bilinear")
            return ((img - 0.5) * 2.0).numpy()
        if preset.startswith("slim-inception-"):
            module = slim["inception_preprocessing"]
            return module.preprocess_image(decode(path), size, size, is_training=False).numpy()
        if preset.startswith("slim-vgg-"):
            module = slim["vgg_preprocessing"]
            return module.preprocess_image(decode(path), size, size, is_training=False).numpy()
        if preset.startswith("keras-dataset-"):
            return keras_reference(path, size, preset.split("-")[2])
    except (tf.errors.InvalidArgumentError, tf.errors.OpError, ValueError):
        return None
    raise ValueError(f"no reference for {preset}")


def dataset_matches_the_map(files, size, mode):
    """image_dataset_from_directory itself over the sample tree (no shuffle, unbatched), then
    preprocess_input: the same bits as keras_reference, file by file."""
    ds = keras.utils.image_dataset_from_directory(
        SAMPLE, labels="inferred", image_size=(size, size), shuffle=False, batch_size=None,
        verbose=False)
    by_path = {}
    for path, (img, _) in zip(ds.file_paths, ds):
        by_path[os.path.realpath(path)] = np.asarray(KERAS_MODES[mode](img), dtype=np.float32)
    return all(by_path[os.path.realpath(p)].tobytes()
               == keras_reference(p, size, mode).tobytes() for p in files)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=os.path.join(REPO, "target", "release", "zoorepro"))
    ap.add_argument("--slim-checkout", help="a checkout of github.com/tensorflow/models")
    ap.add_argument("--files", nargs="*", help="globs (default: the shared sample and corpus)")
    ap.add_argument("--presets", default=PRESETS)
    ap.add_argument("--sha256", help="write the sample's TensorFlow digests to this JSON file")
    ap.add_argument("--json", help="write the full report to this JSON file")
    ap.add_argument("--against", help="run this zoorepro preset instead of each preset (what a "
                    "preset without the variant gives: the 'before' figures of the docs)")
    args = ap.parse_args()
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)

    presets = args.presets.split(",")
    slim = load_slim(args.slim_checkout) if args.slim_checkout else None
    if slim is None:
        left = [p for p in presets if p.startswith("slim-")]
        presets = [p for p in presets if not p.startswith("slim-")]
        if left:
            print(f"no --slim-checkout: {', '.join(left)} left out")
    sample = sorted(glob.glob(os.path.join(SAMPLE, "*", "*.JPEG")))
    if args.files:
        groups = {"files": sorted(f for g in args.files for f in glob.glob(g))}
    else:
        groups = {"sample": sample, "corpus": sorted(glob.glob(os.path.join(CORPUS, "*"))),
                  "made": sorted(glob.glob(os.path.join(MADE, "*")))}
    print(f"tensorflow {tf.__version__}, keras {keras.__version__}, numpy {np.__version__}, "
          f"TF_ENABLE_ONEDNN_OPTS={os.environ.get('TF_ENABLE_ONEDNN_OPTS', 'unset')}")
    known = known_differences()
    bad = 0
    explained = 0
    digests = {}
    full = {}
    home = tempfile.TemporaryDirectory()
    extra = library_parity.inline_home(home.name, inline_recipes(), "nhwc")
    for preset in presets:
        for group, files in groups.items():
            ours = args.against or preset
            report, refs = library_parity.compare(
                args.bin, ours, files, lambda path: reference(path, preset, slim), "tf",
                extra=extra if ours in INLINE else ())
            full[f"{preset}/{group}"] = report
            found = report["acceptance"] + report["differ"]
            expected = [row for row in found if os.path.basename(row[0]) in known]
            explained += len(expected)
            bad += len(found) - len(expected)
            print(f"{preset:24} {group:7} files {report['files']:5}  tf accepts "
                  f"{report['tf_accepts']:5}  compared {report['compared']:5}  one-sided "
                  f"{len(report['acceptance']):3}  tensors differing {len(report['differ']):3}"
                  f"  max abs diff {report['max_abs_diff']:.3g}")
            for row in found:
                if os.path.basename(row[0]) not in known:
                    print("   ", *row)
            if expected:
                print(f"    ({len(expected)} of them known libjpeg-turbo 2.1.4 vs 3.1.0 "
                      f"differences, {os.path.relpath(KNOWN, REPO)})")
            if group == "sample" and preset not in INLINE and not args.against:
                digests[preset] = {
                    os.path.relpath(p, SAMPLE): hashlib.sha256(refs[p].tobytes()).hexdigest()
                    for p in files if refs[p] is not None}
            if group == "sample" and preset.startswith("keras-dataset-") and not args.against:
                size, mode = int(preset.rsplit("-", 1)[1]), preset.split("-")[2]
                same = dataset_matches_the_map(files, size, mode)
                print(f"    image_dataset_from_directory over the sample gives the same tensors: "
                      f"{same}")
                bad += not same
    if any(p.startswith("keras-dataset-") for p in presets):
        print(f"preprocess_input's NumPy path differs from its tensor path on "
              f"{len(NUMPY_PATH_DIFFERS)} (file, mode) pairs")
        bad += len(NUMPY_PATH_DIFFERS)
    if args.sha256:
        with open(args.sha256, "w") as f:
            json.dump({"tensorflow": tf.__version__, "keras": keras.__version__,
                       "digests": digests}, f, indent=1, sort_keys=True)
            f.write("\n")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(full, f, indent=1)
    print(f"{explained} known libjpeg-turbo version differences; "
          + ("OK: no other disagreement" if bad == 0 else f"{bad} other disagreements"))
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
