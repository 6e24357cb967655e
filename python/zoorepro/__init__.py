"""zoorepro from Python: the bit-exact preprocessing of the `zoorepro` CLI, and the CLI itself.

    import zoorepro
    x = zoorepro.preprocess("ILSVRC2012_val_00000001.JPEG", "torchvision")
    # numpy float32, shape (1, 3, 224, 224): the .npy `zoorepro preprocess` writes, byte for byte

ONNX Runtime comes from the `onnxruntime` wheel this package depends on: importing zoorepro
names its library to the runtime, so nothing needs setting up (`--ort-lib` and `ORT_DYLIB_PATH`
still win where given).
"""

from __future__ import annotations

import glob
import importlib.util
import json
import os
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, Union

import numpy

from . import _zoorepro
from ._zoorepro import Error, __version__

__all__ = ["Error", "Loader", "__version__", "evaluate", "preprocess"]


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


PathLike = Union[str, bytes, "os.PathLike[str]"]


def preprocess(
    image: Union[str, "os.PathLike[str]", bytes, bytearray, memoryview],
    recipe: Optional[str] = None,
    pillow_compat: Optional[Union[str, int]] = None,
    model: Optional[str] = None,
    home: Optional[PathLike] = None,
) -> numpy.ndarray:
    """The tensor a recipe makes of one image: a float32 array of shape (1, ...), the same shape,
    dtype and bytes as the .npy of `zoorepro preprocess --recipe RECIPE FILE` (or `--model ID`).

    image: a path, or the file's bytes. recipe: any name `--recipe` accepts (`zoorepro recipes`
    lists the presets). model: instead of recipe, a manifest id (`zoorepro models`): that model's
    own recipe, the one `zoorepro verify --model ID` feeds it, from the manifests of the zoorepro
    home the CLI uses (home=, else $ZOOREPRO_HOME, else the one it finds). Both: the model's recipe
    of that name, as `--model ID --recipe NAME`. pillow_compat: `--pillow-compat` (12, 13 or
    "simd"; default 13).
    Raises zoorepro.Error with the CLI's message for an unknown recipe or model or an
    unreadable image.
    """
    if isinstance(image, (bytes, bytearray, memoryview)):
        data, path = bytes(image), None
    else:
        data, path = None, _path(image, "image")
    compat = None if pillow_compat is None else _text(str(pillow_compat), "pillow_compat")
    raw, shape = _zoorepro.preprocess(data, path, *_recipe_or_model(recipe, model, home), compat)
    return raw.view("<f4").reshape(shape)


def _recipe_or_model(
    recipe: object, model: object, home: object
) -> Tuple[Optional[str], Optional[str], Optional[str]]:
    """recipe=, model= and home= as the extension takes them (which of recipe and model is
    given, and that only one is, is the extension's to check)."""
    return (
        None if recipe is None else _text(recipe, "recipe"),
        None if model is None else _text(model, "model"),
        None if home is None else _path(home, "home"),
    )


class Loader:
    """Batches of a validation set's images, decoded by zoorepro's bit-exact pipelines on Rust
    threads (the GIL released), in the order and with the identity rules of `zoorepro verify`:

        for names, labels, batch in zoorepro.Loader("val/", "torchvision", batch_size=64):
            logits = model(torch.from_numpy(batch))

    Each item is `(names, labels, batch)`: the images' names (their identity in zoorepro's store:
    the file's basename), their class indices as an int64 array (-1 where the set labels none),
    and a writable float32 array of shape (N, ...) whose rows are byte for byte what
    `zoorepro preprocess --recipe RECIPE` writes for each image. Images that cannot be read or
    decoded are left out of the batches and listed in `failed` (verify counts them as failed);
    a batch may thus hold fewer than batch_size images, and the last one usually does.

    Entries of val that are not images of the set are listed in `skipped` as verify's record
    lists them under dataset.skipped: a tar's symbolic and hard links (reason "link", never
    followed), files that are not images, unsafe member names...

    val: a folder or tar that `verify --val` accepts. recipe: any `--recipe` name (a preset or a
    recipe source). model: instead of recipe, a manifest id: that model's own recipe, the one
    `zoorepro verify --model ID` feeds it, from the manifests of the zoorepro home the CLI uses
    (home=, else $ZOOREPRO_HOME, else the one it finds); both: its recipe of that name.
    batch_size: images per batch (1 to 4096; default 32, verify's). threads: decoding threads
    (default: every core). shard: "K/N", the images `verify --shard K/N` reads. ground_truth: a
    CSV/TSV of labels, as `--ground-truth`. pillow_compat: 12, 13 or "simd" (default 13).

    Each `for` over the loader (each `iter(loader)`) is a pass over the whole set, as with a torch
    DataLoader: `for epoch in range(2): for names, labels, batch in loader:` gives every image
    each epoch. The first pass takes the decoding the constructor started; a later `iter()`
    starts a new pass (the set opened again, `failed` and `skipped` emptied) once the previous
    one ended or was left part-way (its iterator dropped after batches were taken: a `break`),
    stopping its threads. An iterator still in use keeps its pass, so threads iterating one loader share it;
    `next(loader)` takes the next batch of the pass under way, which the next `for` continues.

    Memory stays bounded: a few batches are decoded ahead. `close()` (or leaving a `with` block,
    or dropping the loader) stops the decoding threads for good; Ctrl-C while waiting for a
    batch stops them, ends the pass and raises KeyboardInterrupt. Errors (a missing folder, a
    bad recipe, a damaged tar) are zoorepro.Error with the CLI's message.

    A loader may be shared by threads (each batch goes to one of them) and closed from any
    thread, which ends another's wait. It belongs to the process that made it: after `fork()`
    (a torch DataLoader worker, multiprocessing's fork) the child gets zoorepro.Error, since the
    decoding threads are not there; make the loader in the worker instead.
    """

    def __init__(
        self,
        val: PathLike,
        recipe: Optional[str] = None,
        batch_size: int = 32,
        threads: Optional[int] = None,
        shard: Optional[str] = None,
        ground_truth: Optional[PathLike] = None,
        pillow_compat: Optional[Union[str, int]] = None,
        model: Optional[str] = None,
        home: Optional[PathLike] = None,
    ) -> None:
        recipe_, model_, home_ = _recipe_or_model(recipe, model, home)
        self._raw = _zoorepro.Loader(
            _path(val, "val"),
            recipe_,
            _whole(batch_size, "batch_size"),
            None if threads is None else _whole(threads, "threads"),
            None if shard is None else _text(shard, "shard"),
            None if ground_truth is None else _path(ground_truth, "ground_truth"),
            None if pillow_compat is None else _text(str(pillow_compat), "pillow_compat"),
            model_,
            home_,
        )

    def __iter__(self) -> Iterator[Tuple[List[str], numpy.ndarray, numpy.ndarray]]:
        return _Pass(self._raw)

    def __next__(self) -> Tuple[List[str], numpy.ndarray, numpy.ndarray]:
        return _item(self._raw.next_batch(None))

    @property
    def failed(self) -> List[Tuple[str, str]]:
        """The images of the pass under way (or last ended) so far that could not be read or
        decoded: (path within val, why). A new pass starts it empty."""
        return self._raw.failed

    @property
    def skipped(self) -> List[Dict[str, Any]]:
        """The entries of val left out of the set so far, as verify's record lists them under
        dataset.skipped: one dict per reason, in the order the reasons first came up, with
        `reason` ("link": a tar's symbolic or hard link, never followed; "not-an-image";
        "unsafe-path"; ...), `count` and the `first` names (at most 20). A folder's are all
        known once the loader is made, a tar's as its members are read (all of them once the
        loader has given its last batch). It is the pass's: a new pass starts it empty."""
        return [{"reason": reason, "count": count, "first": first} for reason, count, first in self._raw.skipped]

    def close(self) -> None:
        """Stops the decoding threads; the loader yields nothing more."""
        self._raw.close()

    def __enter__(self) -> "Loader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _item(got: Any) -> Tuple[List[str], numpy.ndarray, numpy.ndarray]:
    """A batch from the extension as a Loader yields it; StopIteration after the last."""
    if got is None:
        raise StopIteration
    names, labels, data, shape = got
    batch = data.view("<f4").reshape(shape)
    return names, numpy.array(labels, dtype=numpy.int64), batch


class _Pass:
    """One pass over a Loader's images: what `iter(loader)` gives. While it is alive its pass
    is not replaced by another `iter()`; dropped (a `break`) or exhausted, it lets it be."""

    _id: Optional[int] = None

    def __init__(self, raw: Any) -> None:
        self._raw = raw
        self._id = raw.begin()

    def __iter__(self) -> "_Pass":
        return self

    def __next__(self) -> Tuple[List[str], numpy.ndarray, numpy.ndarray]:
        if self._id is None:
            raise StopIteration
        got = self._raw.next_batch(self._id)
        if got is None:
            self._leave()
        return _item(got)

    def _leave(self) -> None:
        if self._id is not None:
            done, self._id = self._id, None
            self._raw.end(done)

    def __del__(self) -> None:
        self._leave()


def _whole(value: object, name: str) -> int:
    """An int argument, refused (zoorepro.Error) when it is not a whole number."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise Error(f"{name} must be a whole number, not {value!r}")
    return value


def _path(value: object, name: str) -> str:
    """A path argument (str, bytes or os.PathLike) as the str the extension takes, refused
    (zoorepro.Error) when it is none of them, or empty. Bytes are decoded as os.fsdecode does,
    so a name that is not UTF-8 reaches the file system unchanged."""
    try:
        path = os.fsdecode(value)  # type: ignore[arg-type]
    except TypeError:
        raise Error(f"{name} must be a path (str, bytes or os.PathLike), not {type(value).__name__}") from None
    if not path:
        raise Error(f"{name} is an empty path: give a file or folder (\".\" for the current folder)")
    try:
        os.fsencode(path)
    except UnicodeEncodeError as e:
        raise Error(_unencodable(name, path, e)) from None
    return path


def _text(value: object, name: str) -> str:
    """A str argument, refused (zoorepro.Error) when it is not one, or holds what no UTF-8 text
    can (a lone surrogate, "\\ud800")."""
    if not isinstance(value, str):
        raise Error(f"{name} must be a str, not {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as e:
        raise Error(_unencodable(name, value, e)) from None
    return value


def _unencodable(name: str, value: str, e: UnicodeEncodeError) -> str:
    """The one message for a str or path argument the extension could not take (it would raise
    a UnicodeEncodeError naming no argument): the argument, the character and where it is."""
    return (f"{name} holds {value[e.start]!r} at character {e.start}, a lone surrogate that no "
            f"UTF-8 text or file name can hold: pass the text as it was decoded, without it")


def evaluate(
    model_fn: Callable[[numpy.ndarray], Any],
    val: PathLike,
    model: Optional[str] = None,
    like: Optional[str] = None,
    recipe: Optional[str] = None,
    name: Optional[str] = None,
    framework: Optional[str] = None,
    cache_dir: Optional[PathLike] = None,
    checkpoint_sha256: Optional[str] = None,
    batch_size: int = 32,
    threads: Optional[int] = None,
    shard: Optional[str] = None,
    ground_truth: Optional[PathLike] = None,
    report_dir: Optional[PathLike] = None,
    predictions: Optional[PathLike] = None,
    limit: Optional[int] = None,
    pillow_compat: Optional[Union[str, int]] = None,
    home: Optional[PathLike] = None,
) -> Dict[str, Any]:
    """Verifies a model run natively (torch, Keras, JAX, ...) as `zoorepro verify` verifies an
    ONNX export: the same images, batches, store rows, record, verdict and report files.

    model_fn maps a float32 batch (N, ...) of the recipe's tensors to scores: logits or
    probabilities of shape (N, classes), a numpy array or anything numpy.asarray takes (a CPU
    torch tensor is detached and converted); they are ranked as float32, NaN below every number.
    model=ID: this is model ID (its manifest's recipe, classes and published references judge
    it). like=ID: your own model of ID (name= required), judged by ID's recipes and references as
    `verify --like ID` judges an export: the run is `like/ID`, marked unpinned. recipe: another recipe of the manifest (`verify --recipe`). The other arguments
    are verify's flags of the same names: cache_dir (`--cache-dir`, the store), batch_size
    (`--batch`: images per model_fn call, default 32), threads (decoding threads, default every
    core), shard, ground_truth, report_dir, predictions (a JSON Lines file of per-image top-5),
    limit (the first N images: a partial run), pillow_compat, home.

    The record says the model ran natively: model `native:NAME`, verification `native` (so the
    verdict carries the `unverified-model` mark: nothing ties a Python function to a pinned
    file), provider `native (FRAMEWORK)`, and the framework, name and checkpoint digest in
    `onnx.sidecar.native`. With checkpoint_sha256 (the sha256 of the checkpoint's file) the
    run is keyed by it and by name, so a rerun resumes the stored run and reuses its rows, after
    a spot check: 64 of the rows it would reuse (all when fewer are stored), whatever
    batch_size, are inferred again, and if more than 1 in 64 get another top-1 or top-5 set
    (beyond what GPU nondeterminism does to near-ties) the stored rows are another model's, and
    evaluate raises zoorepro.Error naming the run and what to do (give the changed model its own
    checkpoint_sha256, or `zoorepro runs --delete N`). While it runs, the run's key is claimed:
    another process under the same checkpoint_sha256 and name is refused with zoorepro.Error.
    Without checkpoint_sha256 every call is a new run, so a changed model never reuses old rows.

    If model_fn raises, the exception propagates once the pass has stopped: with
    checkpoint_sha256 the store holds every batch before it, whole (one transaction a batch),
    and a call with the same checkpoint_sha256 and name resumes there; without one the run is
    deleted, since nothing could resume it. Ctrl-C (KeyboardInterrupt, raised in model_fn or
    while evaluate waits for the next batch) too. Other errors are zoorepro.Error with the CLI's
    message, naming the argument. model_fn is called on this thread; the pass (reading,
    decoding, the store) runs on a Rust thread that never calls into Python.

    Returns a dict: model_id, images, evaluated, failed, top1_correct, top5_correct, top1 and
    top5 (percent of images), verdict (status), marks, run_id (None with no store), reused
    (images answered by the store), exit_status (what `verify` would exit with), reports (the
    JSON, Markdown and HTML paths) and record (the whole record, as `verify --json`).
    """
    if not callable(model_fn):
        raise Error(f"model_fn must be callable (batch -> scores), not {type(model_fn).__name__}")
    if (model is None) == (like is None):
        raise Error("evaluate takes model=ID (this model's weights, judged by its references) or like=ID "
                    "(your own model of ID, judged as verify --like judges an export), one of them")
    if like is not None and not name:
        raise Error("like=ID needs name=: the record names your model, not ID's file")
    for value, what in ((model, "model"), (like, "like"), (name, "name"), (framework, "framework"),
                        (recipe, "recipe"), (shard, "shard"), (checkpoint_sha256, "checkpoint_sha256")):
        if value is not None:
            _text(value, what)
    # Every value is one `--flag=VALUE` element: a value starting with `-` (a folder "-h", a
    # limit of -1) stays a value instead of being read as a flag.
    def flag(name: str, value: str) -> str:
        return f"{name}={value}"

    argv: List[str] = []
    for name_, value, what in (("--home", home, "home"), ("--cache-dir", cache_dir, "cache_dir")):
        if value is not None:
            argv.append(flag(name_, _path(value, what)))
    argv += ["verify", flag("--model", model if model is not None else like),  # type: ignore[arg-type]
             flag("--val", _path(val, "val")), flag("--batch", str(_whole(batch_size, "batch_size")))]
    options = (
        ("--recipe", recipe),
        ("--threads", None if threads is None else str(_whole(threads, "threads"))),
        ("--shard", shard),
        ("--ground-truth", None if ground_truth is None else _path(ground_truth, "ground_truth")),
        ("--report-dir", None if report_dir is None else _path(report_dir, "report_dir")),
        ("--predictions", None if predictions is None else _path(predictions, "predictions")),
        ("--limit", None if limit is None else str(_whole(limit, "limit"))),
        ("--pillow-compat", None if pillow_compat is None else _text(str(pillow_compat), "pillow_compat")),
    )
    for name_, value in options:
        if value is not None:
            argv.append(flag(name_, value))

    def call(data: numpy.ndarray, shape: List[int]) -> Tuple[bytes, int]:
        batch = data.view("<f4").reshape(shape)
        return _scores(model_fn(batch), shape[0])

    label = name if name is not None else (model if model is not None else like)
    native = (framework, label, checkpoint_sha256, like is not None)
    # The pass runs on a Rust thread that never touches Python and asks for each batch's
    # scores here: model_fn runs on this thread, called from Python (src/python/evaluate.rs).
    run = _zoorepro.NativePass(argv, native)
    raised: Optional[BaseException] = None
    try:
        while True:
            request = run.request()
            if request is None:
                break
            try:
                run.answer(*call(*request))
            except BaseException as e:  # noqa: BLE001 - model_fn's own, raised again once the pass stopped
                raised = raised or e
                run.refuse(f"model_fn raised {type(e).__name__}: {e}")
        done, stopped = run.finish()
    finally:
        run.close()
    if done is None:
        if raised is not None:
            raise raised
        raise Error(stopped)
    text, status, reports = done
    record = json.loads(text)
    store = record.get("store") or {}
    return {
        "model_id": record["model_id"],
        "images": record["images"],
        "evaluated": record["evaluated"],
        "failed": record["failed"],
        "top1_correct": record["top1_correct"],
        "top5_correct": record["top5_correct"],
        "top1": record["top1"],
        "top5": record["top5"],
        "verdict": record["verdict"]["status"],
        "marks": record["verdict"].get("marks", []),
        "run_id": store.get("run_id"),
        "reused": store.get("reused", 0),
        "exit_status": status,
        "reports": reports,
        "record": record,
    }


def _torch_numpy(tensor: Any) -> numpy.ndarray:
    """A torch tensor's values as numpy's: bfloat16 and the float8 types, which numpy lacks,
    widened to float32 first (exactly: each is a float32 with fewer mantissa bits)."""
    tensor = tensor.detach().cpu()
    try:
        return tensor.numpy()
    except TypeError:
        if not tensor.is_floating_point():
            raise
        return tensor.float().numpy()


def _scores(out: Any, rows: int) -> Tuple[bytes, int]:
    """model_fn's output as little-endian float32 bytes and its number of classes, refused
    (zoorepro.Error) unless it is a (rows, classes) array of numbers."""
    kind = type(out).__name__
    try:
        if hasattr(out, "detach") and hasattr(out, "cpu"):  # a torch tensor
            out = _torch_numpy(out)
        elif not isinstance(out, numpy.ndarray) and hasattr(out, "numpy"):  # a TensorFlow tensor
            out = out.numpy()
    except Exception as e:  # noqa: BLE001 - the framework's conversion failed: the output is the problem
        dtype = getattr(out, "dtype", None)
        raise Error(f"model_fn returned a {kind}{'' if dtype is None else f' of {dtype}'} that cannot be "
                    f"converted to numpy ({type(e).__name__}: {e}); return float32 scores") from None
    try:
        scores = numpy.asarray(out)
    except Exception as e:  # noqa: BLE001 - any conversion failure is the same user error
        raise Error(f"model_fn returned {type(out).__name__}, which is not an array of scores: {e}") from None
    if scores.dtype.kind not in "fiu" or scores.dtype.kind == "b":
        raise Error(f"model_fn returned {scores.dtype} values; evaluate needs numbers (logits or probabilities)")
    if scores.ndim != 2 or scores.shape[0] != rows or scores.shape[1] == 0:
        raise Error(f"model_fn returned an array of shape {tuple(scores.shape)} for a batch of {rows} images; "
                    f"evaluate needs ({rows}, classes)")
    scores = numpy.ascontiguousarray(scores, dtype="<f4")
    return scores.tobytes(), int(scores.shape[1])
