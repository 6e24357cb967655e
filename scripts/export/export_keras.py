#!/usr/bin/env python3
"""Exports the 13 keras.applications classifiers of benchmarking-keras-pytorch to ONNX, as manifests/keras__*.json
expect them: models/keras/<name>.onnx, input "input" float32 [N,H,W,3] NHWC (224, 299 or 331) with a dynamic batch
dimension, output "probabilities" [N,1000] (the applications' softmax). The NHWC input is kept as Keras defines it:
no transpose is added, and the recipes feed NHWC. Each file gets a sidecar models/keras/<name>.onnx.json
(framework and exporter versions, weights and their sha256, opset, the file's sha256) that `zoorepro verify`
copies into its record.

Exporter: Keras 3's own `Model.export(format="onnx")`, with the TensorFlow backend. It traces the model's
inference function (training=False) into a concrete tf.function and converts that with tf2onnx's
`convert.from_function`. tf2onnx's older `from_keras` entry point expects tf.keras 2 model internals and fails on
Keras 3 models (TensorFlow >= 2.16 ships Keras 3), so the Keras-maintained path is the one that works with current
releases; it also patches tf2onnx for NumPy 2. The graph's input and output are then renamed to the manifest's
names, which changes no computation.

Usage (packages: scripts/export/requirements-export.txt):
    scripts/export/export_keras.py                                   # all 13, weights="imagenet" (Keras downloads them)
    scripts/export/export_keras.py --models resnet50,mobilenet --weights none     # random weights, seeded
"""
import argparse
import datetime
import hashlib
import json
import os
import sys

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# name in the manifests -> (keras.applications class, input size)
MODELS = {
    "densenet121": ("DenseNet121", 224), "densenet169": ("DenseNet169", 224), "densenet201": ("DenseNet201", 224),
    "inceptionresnetv2": ("InceptionResNetV2", 299), "inceptionv3": ("InceptionV3", 299),
    "xception": ("Xception", 299), "mobilenet": ("MobileNet", 224), "mobilenetV2": ("MobileNetV2", 224),
    "nasnetmobile": ("NASNetMobile", 224), "nasnetlarge": ("NASNetLarge", 331),
    "resnet50": ("ResNet50", 224), "vgg16": ("VGG16", 224), "vgg19": ("VGG19", 224),
}
INPUT_NAME, OUTPUT_NAME = "input", "probabilities"
OPSET = 17
SEED = 0


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def build(name, weights):
    """The model, and the sha256 of the weight file Keras loaded (None for random weights)."""
    import keras
    from keras.src.utils import file_utils

    cls, size = MODELS[name]
    fetched = []
    if weights == "none":
        keras.utils.set_random_seed(SEED)
        model = getattr(keras.applications, cls)(weights=None, input_shape=(size, size, 3))
        randomize(model, size)
        return model, None
    # The applications fetch their weights through file_utils.get_file; recording the path it returns names
    # the exact file loaded, cached or not.
    original = file_utils.get_file

    def recording_get_file(*args, **kwargs):
        path = original(*args, **kwargs)
        fetched.append(path)
        return path

    file_utils.get_file = recording_get_file
    try:
        model = getattr(keras.applications, cls)(weights="imagenet", input_shape=(size, size, 3))
    finally:
        file_utils.get_file = original
    return model, (sha256_file(fetched[-1]) if fetched else None)


def randomize(model, size):
    """Seeded random weights that keep activations alive, so that a --weights none check compares real numbers.

    Keras' default initialisers (Glorot, BatchNormalization as the identity) shrink activations by orders of
    magnitude per block: a random MobileNet's features reach 1e-19 and its softmax is exactly uniform, which any
    export would match. He-normal kernels (variance 2 / fan-in, depthwise fan-in = kernel area) keep the scale;
    BatchNormalization gets non-trivial statistics so that its conversion is exercised too; the classifier is
    scaled so that the logits spread over a few units and the softmax is far from uniform.
    """
    import keras

    rng = np.random.default_rng(SEED)
    classifier = None
    for layer in model.layers:
        for variable in layer.weights:
            leaf = variable.path.rsplit("/", 1)[-1]
            shape = tuple(variable.shape)
            if leaf in ("kernel", "pointwise_kernel"):
                fan_in = int(np.prod(shape[:-1]))
                value = rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
                classifier = layer
            elif leaf == "depthwise_kernel":
                value = rng.standard_normal(shape) * np.sqrt(2.0 / (shape[0] * shape[1]))
            elif leaf in ("gamma", "moving_variance"):
                value = rng.uniform(0.5, 1.5, shape)
            elif leaf in ("beta", "moving_mean", "bias"):
                value = rng.normal(0.0, 0.1, shape)
            else:
                continue
            variable.assign(value.astype(np.float32))
    # The last layer with a kernel is the classifier: scale it from the features it actually receives.
    features = keras.Model(model.input, classifier.input)
    sample = rng.standard_normal((4, size, size, 3)).astype(np.float32)
    rms = float(np.sqrt(np.mean(np.square(np.asarray(features(sample, training=False), dtype=np.float64)))))
    kernel = classifier.weights[0]
    fan_in = int(np.prod(tuple(kernel.shape)[:-1]))
    std = 3.0 / (np.sqrt(fan_in) * max(rms, 1e-30))
    kernel.assign((rng.standard_normal(tuple(kernel.shape)) * std).astype(np.float32))


def rename(graph, old, new):
    """Renames a tensor everywhere it appears (graph inputs/outputs, node inputs/outputs)."""
    if old == new:
        return
    for value in list(graph.input) + list(graph.output) + list(graph.value_info):
        if value.name == old:
            value.name = new
    for node in graph.node:
        node.input[:] = [new if n == old else n for n in node.input]
        node.output[:] = [new if n == old else n for n in node.output]


def export(name, weights, out_dir):
    import keras
    import onnx
    import tensorflow as tf
    import tf2onnx

    model, weights_sha256 = build(name, weights)
    _, size = MODELS[name]
    path = os.path.join(out_dir, name + ".onnx")
    spec = tf.TensorSpec((None, size, size, 3), tf.float32, name=INPUT_NAME)
    model.export(path, format="onnx", input_signature=[spec], opset_version=OPSET, verbose=False)

    graph = onnx.load(path)
    initializers = {t.name for t in graph.graph.initializer}
    inputs = [i for i in graph.graph.input if i.name not in initializers]
    if len(inputs) != 1 or not graph.graph.output:
        os.remove(path)
        raise SystemExit("%s: expected one input and an output, got %d inputs" % (path, len(inputs)))
    rename(graph.graph, inputs[0].name, INPUT_NAME)
    rename(graph.graph, graph.graph.output[0].name, OUTPUT_NAME)
    # tf2onnx names the dynamic batch dimension after an internal tensor; call it what the manifest calls it.
    for value in (inputs[0], graph.graph.output[0]):
        first = value.type.tensor_type.shape.dim[0]
        if not first.HasField("dim_value"):
            first.dim_param = "N"
    onnx.checker.check_model(graph)
    onnx.save(graph, path)
    check_signature(graph, path, size)

    sidecar = {
        "model": name,
        "framework": "keras",
        "framework_versions": {"keras": keras.__version__, "tensorflow": tf.__version__,
                               "keras_backend": keras.backend.backend()},
        "exporter": "keras.Model.export(format='onnx') -> tf2onnx.convert.from_function",
        "exporter_version": "keras %s, tf2onnx %s" % (keras.__version__, tf2onnx.__version__),
        "onnx_version": onnx.__version__,
        "weights": "imagenet" if weights != "none" else "none",
        "weights_sha256": weights_sha256,
        "seed": SEED if weights == "none" else None,
        "opset": next(o.version for o in graph.opset_import if o.domain in ("", "ai.onnx")),
        "input": {"name": INPUT_NAME, "shape": ["N", size, size, 3], "layout": "nhwc"},
        "output": {"name": OUTPUT_NAME, "shape": ["N", 1000], "kind": "probabilities"},
        "sha256": sha256_file(path),
        "exported_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    with open(path + ".json", "w") as f:
        json.dump(sidecar, f, indent=2)
        f.write("\n")
    return path, sidecar


def check_signature(graph, path, size):
    """The names and shapes the manifest declares, or the export is refused (not left half-right on disk)."""
    def dims(value):
        return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?")
                for d in value.type.tensor_type.shape.dim]
    initializers = {t.name for t in graph.graph.initializer}
    inputs = [i for i in graph.graph.input if i.name not in initializers]
    problems = []
    if [i.name for i in inputs] != [INPUT_NAME]:
        problems.append("inputs %s, expected [%r]" % ([i.name for i in inputs], INPUT_NAME))
    elif dims(inputs[0])[1:] != [size, size, 3] or isinstance(dims(inputs[0])[0], int):
        problems.append("input shape %s, expected [N, %d, %d, 3]" % (dims(inputs[0]), size, size))
    if graph.graph.output[0].name != OUTPUT_NAME or dims(graph.graph.output[0])[1:] != [1000]:
        problems.append("first output %r %s, expected %r [N, 1000]" % (
            graph.graph.output[0].name, dims(graph.graph.output[0]), OUTPUT_NAME))
    if problems:
        os.remove(path)
        raise SystemExit("%s: %s" % (path, "; ".join(problems)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default=",".join(MODELS), help="comma-separated names (default: all 13)")
    ap.add_argument("--weights", default="imagenet", choices=["imagenet", "none"],
                    help="imagenet (Keras downloads them) or none (seeded random weights)")
    ap.add_argument("--out-dir", default=os.path.join(REPO, "models", "keras"))
    args = ap.parse_args()
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        raise SystemExit("unknown model(s) %s; choose from %s" % (", ".join(unknown), ", ".join(MODELS)))
    os.makedirs(args.out_dir, exist_ok=True)
    for name in names:
        path, sidecar = export(name, args.weights, args.out_dir)
        print("%s  opset %d  sha256 %s  weights %s" % (path, sidecar["opset"], sidecar["sha256"], sidecar["weights"]))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
