"""zoorepro from Python: the bit-exact preprocessing of the `zoorepro` CLI, and the CLI itself.

    import zoorepro
    x = zoorepro.preprocess("ILSVRC2012_val_00000001.JPEG", "torchvision-resnet")
    # numpy float32, shape (1, 3, 224, 224): the .npy `zoorepro preprocess` writes, byte for byte

ONNX Runtime comes from the `onnxruntime` wheel this package depends on: importing zoorepro
names its library to the runtime, so nothing needs setting up (`--ort-lib` and `ORT_DYLIB_PATH`
still win where given).
"""

from __future__ import annotations

import glob
import importlib.util
import os
from typing import Optional, Union

import numpy

from . import _zoorepro
from ._zoorepro import Error, __version__

__all__ = ["Error", "__version__", "preprocess"]


def _onnxruntime_library() -> Optional[str]:
    """The `onnxruntime` wheel's `capi/libonnxruntime.so*` (the last by name), found without
    importing onnxruntime: importing it would load a second copy of the runtime."""
    spec = importlib.util.find_spec("onnxruntime")
    if spec is None or not spec.submodule_search_locations:
        return None
    for package in spec.submodule_search_locations:
        found = sorted(
            p for p in glob.glob(os.path.join(package, "capi", "libonnxruntime.so*")) if os.path.isfile(p)
        )
        if found:
            return found[-1]
    return None


# None (onnxruntime not installed) is named too: the CLI then says which `pip install` fixes it.
_zoorepro.set_ort_library(_onnxruntime_library())


def preprocess(
    image: Union[str, "os.PathLike[str]", bytes, bytearray, memoryview],
    recipe: str,
    pillow_compat: Optional[Union[str, int]] = None,
) -> numpy.ndarray:
    """The tensor `recipe` makes of one image: a float32 array of shape (1, ...), the same shape,
    dtype and bytes as the .npy of `zoorepro preprocess --recipe RECIPE FILE`.

    image: a path, or the file's bytes. recipe: any name `--recipe` accepts (`zoorepro recipes`
    lists the presets). pillow_compat: `--pillow-compat` (12, 13 or "simd"; default 13).
    Raises zoorepro.Error with the CLI's message for an unknown recipe or an unreadable image.
    """
    if isinstance(image, (bytes, bytearray, memoryview)):
        data, path = bytes(image), None
    else:
        data, path = None, os.fspath(image)
    compat = None if pillow_compat is None else str(pillow_compat)
    raw, shape = _zoorepro.preprocess(data, path, recipe, compat)
    return numpy.frombuffer(raw, dtype="<f4").reshape(shape).copy()
