"""Verify Keras's MobileNet natively (no ONNX export) with zoorepro.evaluate.

    pip install zoorepro keras tensorflow   # or keras with the jax or torch backend
    python examples/keras_mobilenet.py --val ILSVRC2012_img_val/ [--weights imagenet]

--weights imagenet: Keras's own ImageNet weights (downloaded by Keras; the file's sha256 keys the
stored run, so running again resumes it). Without it the model has random weights: the run shows
the plumbing (and a drift verdict, as it should), not MobileNet's accuracy.

zoorepro prepares the images as the manifest keras/mobilenet says Keras's pipeline does (recipe
`keras-tf-224`: NHWC, [-1, 1]), Keras runs the model, and zoorepro writes the same store rows,
record, reports and verdict as `zoorepro verify`.
"""
import argparse
import glob
import hashlib
import os

import keras

import zoorepro


def weights_digest():
    """The sha256 of the ImageNet weights file Keras downloaded for MobileNet 1.0 224."""
    cache = os.path.join(os.path.expanduser(os.environ.get("KERAS_HOME", "~/.keras")), "models")
    found = sorted(glob.glob(os.path.join(cache, "mobilenet_1_0_224_tf.h5")))
    if not found:
        return None
    with open(found[0], "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--val", required=True, help="a folder or tar verify --val accepts")
    parser.add_argument("--weights", choices=["imagenet"], help="default: random weights")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, help="decoding threads (default: every core)")
    parser.add_argument("--cache-dir", help="zoorepro's store (default: the user's cache)")
    args = parser.parse_args()

    model = keras.applications.MobileNet(weights=args.weights)
    digest = weights_digest() if args.weights else None

    def model_fn(batch):
        # batch: float32 (N, 224, 224, 3) in [-1, 1]; probabilities back as numpy.
        return keras.ops.convert_to_numpy(model(batch, training=False))

    result = zoorepro.evaluate(
        model_fn,
        args.val,
        model="keras/mobilenet",
        name="mobilenet (keras, " + (args.weights or "random weights") + ")",
        framework=f"keras {keras.__version__} ({keras.backend.backend()})",
        checkpoint_sha256=digest,
        batch_size=args.batch,
        threads=args.threads,
        cache_dir=args.cache_dir,
    )
    print(f"{result['model_id']}: top-1 {result['top1_correct']}/{result['images']} ({result['top1']}%), "
          f"top-5 {result['top5_correct']}, verdict {result['verdict']} {result['marks']}")
    for path in result["reports"]:
        print("  report:", path)


if __name__ == "__main__":
    main()
