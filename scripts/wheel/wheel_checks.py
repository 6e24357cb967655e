"""What check_api.py and check_native.py share: their command line's folders (SHARED SCRATCH) and
the shared models, the wheel's CLI as a user runs it, and an expected zoorepro.Error. Imported from
this folder (the checks run from outside the checkout, so `import zoorepro` is the installed
wheel's)."""
import os
import subprocess
import sys

import zoorepro

shared, scratch = sys.argv[1], sys.argv[2]
sample = os.path.join(shared, "imagenet-sample")
models_dir = os.path.join(shared, "models")
MODEL = "coral/mobilenet_v2_1.0_224_quant"
ONNX = os.path.join(models_dir, "coral__mobilenet_v2_1.0_224_quant.onnx")
# The same graph with changed weights (shared/models/MODELS.md: 53 of 100 top-1 where its parent
# has 72): another model with the same input and classes.
BROKEN = os.path.join(models_dir, "coral__broken-mobilenet_v2_1.0_224_quant.onnx")


def cli(*args):
    return subprocess.run(["zoorepro", *args], capture_output=True, text=True)


def expect_error(call, *needles):
    try:
        call()
    except zoorepro.Error as e:
        for needle in needles:
            assert needle in str(e), (needle, str(e))
        return str(e)
    raise AssertionError(f"no zoorepro.Error ({needles})")
