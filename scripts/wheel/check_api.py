"""The Python API's checks (run by scripts/test_wheel.sh inside the fresh venv, from a folder
outside the checkout): zoorepro.Loader and zoorepro.evaluate against the CLI of the same wheel.

    python check_api.py SHARED SCRATCH

- Loader batches are byte-identical to `zoorepro preprocess`'s .npy for every preset (each
  pipeline family), in verify's order, with verify's labels, and a shard holds the images
  `--shard K/N` gives it;
- evaluate with a model_fn wrapping onnxruntime's InferenceSession on the shared coral model,
  with the session options and batch verify's record gives, writes per-image top-5 and scores
  byte-identical to `zoorepro verify --predictions` and the same verdict status;
- an exception from model_fn propagates, leaves the run's stored rows whole, and a rerun with
  the same checkpoint_sha256 resumes them (its stored images, up to 64, inferred again by the spot check); a
  run with no checkpoint_sha256 that stops is deleted, and its progress line says "stopped";
- two different models (the coral model and its broken copy) under one checkpoint_sha256 and
  name: the second is refused (zoorepro.Error naming the run and `zoorepro runs --delete`), and
  leaves the run as it was; under another name it is a run of its own;
- Ctrl-C (SIGINT to a process iterating a Loader) raises KeyboardInterrupt there, promptly,
  and nothing from Rust (no panic) reaches stderr; Ctrl-C while model_fn runs raises it from
  evaluate with the batches before stored, and the rerun resumes them; Ctrl-C before the
  process's first numpy array is KeyboardInterrupt too, not a panic of numpy's C API loading;
- each `for` over a Loader is a pass over the whole set (epochs, as a torch DataLoader's): the
  first takes the decoding the constructor started, a later one lists the set again; a pass left
  part-way is started over; `failed` is the pass's; an iterator still alive keeps its pass;
- one Loader shared by two threads, and closed from another thread while one waits; a Loader
  used in a forked child is zoorepro.Error, not a hang;
- preprocess and Loader with model=ID apply that model's own recipe, byte for byte the
  `zoorepro preprocess --model ID` .npy (built-in manifests, and a user's from home= or
  ZOOREPRO_HOME as the CLI finds it); recipe= with model=, or neither, is zoorepro.Error;
- Loader.skipped lists what verify's record lists under dataset.skipped (a tar's symbolic and
  hard links, a file that is not an image);
- the interpreter exits while daemon threads are inside evaluate's model_fn, preprocess or a
  Loader: the process exits with status 0 (Python used to end those threads inside Rust frames,
  which aborted it);
- zoorepro.Error pickles (module `zoorepro`), so an error raised in a worker process reaches
  the parent with its message (a multiprocessing Pool, fork and spawn);
- messages: a number out of its range says which range and an empty path or model id says so,
  in the same words from evaluate, Loader and preprocess, and the CLI's for the same flags; a
  lone surrogate in any str or path argument names the argument, a long value is quoted in part;
- careless use: a missing folder, bad arguments (values starting with `-`, numbers out of every
  range, wrong types, bytes paths), model_fn returning wrong shapes, dtypes or NaN, or a tensor
  whose .numpy() fails, leaving a loop early, two loaders at once.
"""
import hashlib
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import zoorepro
from wheel_checks import BROKEN, MODEL, ONNX, cli, expect_error, models_dir, sample, scratch, shared


def small_set():
    """A flat folder of sample images: the first 5 and the 2 largest (one may be among the first)."""
    files = sorted(os.path.join(root, f) for root, _, names in os.walk(sample) for f in names
                   if f.endswith(".JPEG"))
    chosen = files[:5] + sorted(files, key=os.path.getsize)[-2:]
    folder = os.path.join(scratch, "small")
    os.makedirs(folder, exist_ok=True)
    for f in chosen:
        shutil.copyfile(f, os.path.join(folder, os.path.basename(f)))
    return folder


def check_loader():
    folder = small_set()
    presets = [r["name"] for r in json.loads(cli("recipes", "--json").stdout)]
    for name in presets:
        got_names, rows, labels = [], [], []
        with zoorepro.Loader(folder, name, batch_size=3, threads=2) as loader:
            for names, label, batch in loader:
                assert batch.dtype == np.float32 and batch.flags.writeable, batch.dtype
                assert len(names) == len(label) == batch.shape[0] <= 3, (len(names), batch.shape)
                got_names += names
                labels += label.tolist()
                rows.append(batch)
            assert loader.failed == [], loader.failed
        assert got_names == sorted(os.listdir(folder)), got_names
        npy = os.path.join(scratch, "loader.npy")
        out = cli("preprocess", "--recipe", name, *[os.path.join(folder, n) for n in got_names],
                  "--out", npy)
        assert out.returncode == 0, out.stderr
        want = np.load(npy)
        got = np.concatenate(rows)
        assert got.shape == want.shape and got.tobytes() == want.tobytes(), name
        # Each batch dropped before the next: their buffers are decoded into again.
        done = 0
        for _, _, batch in zoorepro.Loader(folder, name, batch_size=2, threads=2):
            assert batch.tobytes() == want[done:done + len(batch)].tobytes(), (name, done)
            done += len(batch)
            del batch
        assert done == len(want), (name, done)
    print(f"Loader: {len(presets)} presets byte-identical to `zoorepro preprocess` .npy, dataset order, "
          "batches kept or dropped")

    # verify's labels and the shard's images: verify --predictions names both.
    preds = os.path.join(scratch, "small.jsonl")
    out = cli("--cache-dir", os.path.join(scratch, "cache-small"), "verify", "--model", MODEL,
              "--models-dir", models_dir, "--val", folder, "--predictions", preds, "--no-cache")
    assert out.returncode == 0, out.stderr
    verified = [json.loads(line) for line in open(preds)]
    got = [(n, int(l)) for names, label, _ in zoorepro.Loader(folder, presets[0], batch_size=4)
           for n, l in zip(names, label)]
    assert got == [(os.path.basename(v["file"]), v["label"]) for v in verified], got
    whole = [n for names, _, _ in zoorepro.Loader(sample, presets[0], batch_size=16) for n in names]
    part = [n for names, _, _ in zoorepro.Loader(sample, presets[0], batch_size=16, shard="1/3")
            for n in names]
    in_shard = [n for n in whole
                if int.from_bytes(hashlib.sha256(n.encode()).digest()[:8], "big") % 3 == 1]
    assert len(whole) == 100 and part == in_shard and 0 < len(part) < 100, (len(whole), len(part))
    print(f"Loader: verify's names and labels; shard 1/3 holds its {len(part)} images of 100")


def ort_model_fn(threads, path=ONNX):
    """onnxruntime's Python session with the options verify's sessions have (runtime/session.rs)."""
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.use_deterministic_compute = True
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda batch: session.run(None, {name: batch})[0]


def read_predictions(path):
    return [(p["file"], p["label"], p["top5"], p["scores"]) for p in map(json.loads, open(path))]


def check_evaluate():
    cache = os.path.join(scratch, "cache-eval")
    preds_onnx = os.path.join(scratch, "onnx.jsonl")
    out = cli("--cache-dir", cache, "verify", "--model", MODEL, "--models-dir", models_dir,
              "--val", sample, "--json", "--predictions", preds_onnx)
    assert out.returncode == 0, out.stderr
    record = json.loads(out.stdout)
    threads, batch = record["provenance"]["threads"], record["provenance"]["batch"]
    with open(ONNX, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    preds_native = os.path.join(scratch, "native.jsonl")
    result = zoorepro.evaluate(ort_model_fn(threads), sample, model=MODEL, name="ort-python",
                               framework="onnxruntime", cache_dir=cache, batch_size=batch,
                               threads=threads, checkpoint_sha256=digest, predictions=preds_native,
                               report_dir=os.path.join(scratch, "reports"))
    assert read_predictions(preds_native) == read_predictions(preds_onnx), "per-image top-5 differ"
    assert (result["top1_correct"], result["top5_correct"], result["images"]) == (72, 93, 100), result
    assert result["verdict"] == record["verdict"]["status"], (result["verdict"], record["verdict"])
    assert set(result["marks"]) == set(record["verdict"]["marks"]) | {"unverified-model"}, result
    native = result["record"]["onnx"]
    assert native["path"] == "native:ort-python" and native["verification"] == "native", native
    assert native["sidecar"]["native"] == {"framework": "onnxruntime", "name": "ort-python",
                                           "checkpoint_sha256": digest}, native
    assert result["record"]["provenance"]["provider"] == "native (onnxruntime)"
    assert all(os.path.isfile(p) for p in result["reports"]) and len(result["reports"]) == 3, result
    out = cli("--cache-dir", cache, "compare", str(record["store"]["run_id"]), str(result["run_id"]),
              "--format", "json")
    assert out.returncode == 0, out.stderr
    pair = json.loads(out.stdout)
    assert "native_name" not in pair["a"] and pair["b"]["native_name"] == "ort-python", (pair["a"], pair["b"])
    print(f"evaluate: onnxruntime's Python session at verify's batch {batch} and {threads} threads: "
          f"100 images, per-image top-5 and scores identical to verify's, verdict {result['verdict']} "
          f"(marks {result['marks']}); `zoorepro compare` pairs the two runs, the native one by its name")

    # like=ID: judged as `verify --like ID` judges an export, under like/ID, the record saying so.
    liked = zoorepro.evaluate(ort_model_fn(threads), sample, like=MODEL, name="mine",
                              cache_dir=cache, batch_size=batch, threads=threads,
                              report_dir=os.path.join(scratch, "reports"))
    assert liked["verdict"] == record["verdict"]["status"], (liked["verdict"], record["verdict"])
    assert liked["record"]["model_id"] == "like/" + MODEL, liked["record"]["model_id"]
    assert liked["record"]["onnx"]["like"]["model"] == MODEL, liked["record"]["onnx"]
    print(f"evaluate like={MODEL}: like/{MODEL}, verdict {liked['verdict']} as verify's")
    # A DRIFT of a native model names no command with a file it does not have.
    wrong = zoorepro.evaluate(lambda x: np.ones((x.shape[0], 1001), np.float32), sample,
                              model=MODEL, name="constant", cache_dir=cache,
                              report_dir=os.path.join(scratch, "reports"))
    summary = wrong["record"]["verdict"]["summary"]
    assert wrong["verdict"] == "drift" and "export it to ONNX" in summary, summary
    assert "native:" not in summary, summary

    # Resumable after an exception, and only with the checkpoint's digest.
    calls = {"n": 0}
    model_fn = ort_model_fn(threads)

    def failing(x):
        calls["n"] += 1
        if calls["n"] == 3:
            raise ValueError("out of memory, say")
        return model_fn(x)

    cache2 = os.path.join(scratch, "cache-resume")
    kwargs = dict(model=MODEL, cache_dir=cache2, batch_size=10, checkpoint_sha256="ab" * 32,
                  report_dir=os.path.join(scratch, "reports"))
    try:
        zoorepro.evaluate(failing, sample, **kwargs)
        raise AssertionError("the exception did not propagate")
    except ValueError as e:
        assert str(e) == "out of memory, say", e
    runs = json.loads(cli("--cache-dir", cache2, "runs", "--json").stdout)
    assert len(runs) == 1, runs
    stored = runs[0]
    assert stored["images"] == 20 and not stored["complete"], stored
    again = zoorepro.evaluate(model_fn, sample, **kwargs)
    # The spot check infers the 20 stored rows again (fewer than its 64) before going on.
    assert again["reused"] == 0 and again["record"]["store"]["key"] == stored["key"], again
    assert (again["top1_correct"], again["top5_correct"]) == (72, 93), again
    fresh = zoorepro.evaluate(model_fn, sample, model=MODEL, cache_dir=cache2, batch_size=10,
                              report_dir=os.path.join(scratch, "reports"))
    assert fresh["reused"] == 0 and fresh["record"]["store"]["key"] != stored["key"], fresh
    print("evaluate: model_fn's exception propagates with 20 rows stored whole; the same "
          "checkpoint_sha256 resumes them (all 20 inferred again by the spot check); no digest "
          "is a new run")


def check_careless():
    folder = os.path.join(scratch, "small")
    expect_error(lambda: zoorepro.Loader(os.path.join(scratch, "nope"), "keras-caffe"), "nope")
    expect_error(lambda: zoorepro.Loader(folder, "no-such-recipe"), "no-such-recipe")
    expect_error(lambda: zoorepro.Loader(folder, "keras-caffe", batch_size=0), "batch_size")
    expect_error(lambda: zoorepro.Loader(folder, "keras-caffe", batch_size=4096 * 2), "batch_size")
    expect_error(lambda: zoorepro.Loader(folder, "keras-caffe", threads=-1), "threads")
    expect_error(lambda: zoorepro.Loader(folder, "keras-caffe", batch_size=2.5), "batch_size")
    expect_error(lambda: zoorepro.Loader(folder, "keras-caffe", shard="3/2"), "--shard")
    # Leaving early, and two at once.
    a = zoorepro.Loader(sample, "keras-caffe", batch_size=4, threads=1)
    b = zoorepro.Loader(sample, "torchvision", batch_size=5, threads=1)
    first_a, first_b = next(a), next(b)
    assert first_a[2].shape == (4, 224, 224, 3) or first_a[2].shape[0] == 4, first_a[2].shape
    assert first_b[2].shape[0] == 5
    for i, _ in enumerate(a):
        if i == 2:
            break
    del a
    assert sum(len(n) for n, _, _ in b) == 95
    b.close()
    assert list(b) == []

    kwargs = dict(model=MODEL, cache_dir=os.path.join(scratch, "cache-careless"), batch_size=8,
                  report_dir=os.path.join(scratch, "reports"))
    ones = lambda x: np.ones((x.shape[0], 1001), np.float32)  # noqa: E731
    expect_error(lambda: zoorepro.evaluate(ones, os.path.join(scratch, "nope"), **kwargs), "nope")
    expect_error(lambda: zoorepro.evaluate(ones, folder), "model=ID")
    expect_error(lambda: zoorepro.evaluate(ones, folder, like=MODEL), "name=")
    expect_error(lambda: zoorepro.evaluate(ones, folder, model="no/such-model", cache_dir=scratch),
                 "no/such-model")
    expect_error(lambda: zoorepro.evaluate(ones, folder, checkpoint_sha256="xyz", **kwargs),
                 "64 hex digits")
    for bad, needle in [
        (lambda x: np.ones((x.shape[0],), np.float32), "shape"),
        (lambda x: np.ones((x.shape[0] + 1, 1001), np.float32), "shape"),
        (lambda x: np.ones((x.shape[0], 1000), np.float32), "1000 classes"),
        (lambda x: np.array([["a"] * 1001] * x.shape[0]), "numbers"),
        (lambda x: None, "numbers"),
    ]:
        expect_error(lambda: zoorepro.evaluate(bad, folder, **kwargs), needle)
    nan = zoorepro.evaluate(lambda x: np.full((x.shape[0], 1001), np.nan), folder, **kwargs)
    count = len(os.listdir(folder))
    assert nan["record"]["provenance"]["nan_outputs"] == count == nan["images"], nan
    doubles = zoorepro.evaluate(lambda x: np.ones((x.shape[0], 1001)), folder, **kwargs)
    assert doubles["top1_correct"] == 0 and doubles["failed"] == 0, doubles
    # predictions= naming the store's database or an image of val: refused, nothing replaced.
    database = os.path.join(kwargs["cache_dir"], "zoorepro.sqlite3")
    image = os.path.join(folder, sorted(os.listdir(folder))[0])
    kept = {path: open(path, "rb").read() for path in (database, image)}
    for path, needle in [(database, "prediction store's database"), (image, "lies inside the image set")]:
        expect_error(lambda: zoorepro.evaluate(ones, folder, predictions=path, **kwargs), needle)
    assert all(open(path, "rb").read() == data for path, data in kept.items())
    print("careless use: missing folders, bad arguments, wrong shapes, dtypes, class counts and "
          "None are zoorepro.Error; NaN is counted; loops left early and two loaders at once work; "
          "predictions= naming the store or an image is refused")


# A user's manifest (test_wheel.sh's home has none): its own recipe, an inline 96 x 96 squash.
SQUASH = {
    "format_version": 1, "id": "test/squash96", "framework": "test", "name": "squash96",
    "description": "a user's model", "file": "test__squash96.onnx", "sha256": None,
    "input": {"name": "input", "shape": ["N", 96, 96, 3], "layout": "nhwc", "dtype": "float32"},
    "output": {"name": "logits", "classes": 1000, "label_offset": 0, "kind": "logits"},
    "default_recipe": "squash96",
    "recipes": [{"name": "squash96", "description": "squash to 96, BGR, caffe means",
                 "resize_mode": "squash", "resize_size": 96, "crop_size": 96, "filter": "BILINEAR",
                 "scale": 1.0, "mean": [103.939, 116.779, 123.68], "std": [1.0, 1.0, 1.0],
                 "channels": "bgr", "layout": "nhwc"}],
    "references": [],
}

MODEL_CHILD = r"""
import sys, numpy as np, zoorepro
x = np.concatenate([zoorepro.preprocess(p, model="test/squash96") for p in sys.argv[2:]])
y = np.concatenate([b for _, _, b in zoorepro.Loader(sys.argv[1], model="test/squash96", batch_size=3)])
sys.stdout.write(str(x.tobytes() == y.tobytes()) + " " + x.tobytes().hex())
"""


def check_model_recipe():
    """preprocess and Loader with model=ID: the model's own recipe, as `zoorepro preprocess
    --model ID` writes it (with recipe=, the model's recipe of that name, as `--model ID --recipe
    NAME`); the home as the CLI finds it; neither recipe= nor model= refused."""
    folder = os.path.join(scratch, "small")
    paths = [os.path.join(folder, n) for n in sorted(os.listdir(folder))]
    home = os.path.join(scratch, "home-squash")
    os.makedirs(os.path.join(home, "manifests"), exist_ok=True)
    with open(os.path.join(home, "manifests", "test__squash96.json"), "w") as f:
        json.dump(SQUASH, f)
    npy = os.path.join(scratch, "model.npy")
    cases = [(MODEL, None, None, None), ("coral/mobilenet_v1_0.5_160_quant", None, None, None),
             ("pytorch/inception_v3", None, None, None), ("mlperf/resnet50_v1.5", None, None, None),
             (MODEL, None, "12", None), ("test/squash96", None, None, home),
             ("pytorch/inception_v3", "torchvision-inception-seed", None, None),
             ("pytorch/densenet121", "timm-bicubic", None, None)]
    wants = {}
    for model, recipe, compat, home_ in cases:
        flags = ([] if home_ is None else ["--home", home_]) + ["preprocess", "--model", model]
        flags += ([] if recipe is None else ["--recipe", recipe])
        out = cli(*flags, *([] if compat is None else ["--pillow-compat", compat]), *paths, "--out", npy)
        assert out.returncode == 0, out.stderr
        want = np.load(npy)
        got = np.concatenate([zoorepro.preprocess(p, recipe, model=model, pillow_compat=compat, home=home_)
                              for p in paths])
        assert got.shape == want.shape and got.tobytes() == want.tobytes(), (model, recipe, compat)
        batches = [b for _, _, b in zoorepro.Loader(folder, recipe, model=model, batch_size=3,
                                                   pillow_compat=compat, home=home_)]
        assert np.concatenate(batches).tobytes() == want.tobytes(), (model, recipe, compat)
        wants[model, recipe, compat] = want
    # The two recipes of inception_v3 above differ, so recipe= was not ignored.
    default, seed = (zoorepro.preprocess(paths[0], r, model="pytorch/inception_v3")
                     for r in (None, "torchvision-inception-seed"))
    assert default.tobytes() != seed.tobytes()
    # ZOOREPRO_HOME, read as the CLI reads it (want: the user's model above, from --home).
    env = dict(os.environ, ZOOREPRO_HOME=home)
    child = subprocess.run([sys.executable, "-c", MODEL_CHILD, folder, *paths], capture_output=True,
                           text=True, env=env, timeout=120)
    want = wants["test/squash96", None, None]
    assert child.stdout == "True " + want.tobytes().hex(), (child.stdout[:100], child.stderr)
    image = paths[0]
    # A recipe the model's input cannot take: the CLI's message, word for word.
    out = cli("preprocess", "--model", MODEL, "--recipe", "torchvision", image, "--out", npy)
    for call in (lambda: zoorepro.preprocess(image, "torchvision", model=MODEL),
                 lambda: zoorepro.Loader(folder, "torchvision", model=MODEL)):
        message = expect_error(call, "torchvision")
        assert out.returncode == 2 and out.stderr.strip() == f"zoorepro: error: {message}", (out.stderr, message)
    for call in (lambda: zoorepro.preprocess(image), lambda: zoorepro.Loader(folder)):
        expect_error(call, "recipe=NAME", "model=ID")
    out = cli("preprocess", "--model", "no/such-model", image, "--out", npy)
    message = expect_error(lambda: zoorepro.preprocess(image, model="no/such-model"), "no/such-model")
    assert out.returncode == 2 and out.stderr.strip() == f"zoorepro: error: {message}", (out.stderr, message)
    print(f"model=: preprocess and Loader byte-identical to `zoorepro preprocess --model ID` for "
          f"{len(cases)} cases (a user's manifest from home= and ZOOREPRO_HOME, and recipe= with "
          "model= among them); neither, or a recipe the model cannot take, is zoorepro.Error")


def check_skipped():
    """Loader.skipped: a tar's link members and a file that is not an image, as verify's record
    lists them under dataset.skipped."""
    import io
    import tarfile
    files = sorted(os.path.join(shared, "imagenet-val", f) for f in os.listdir(os.path.join(shared, "imagenet-val"))
                   if f.endswith(".JPEG"))[:4]
    tar_path = os.path.join(scratch, "links.tar")
    links = ["ILSVRC2012_val_99999998.JPEG", "ILSVRC2012_val_99999999.JPEG"]
    with tarfile.open(tar_path, "w") as tar:
        for f in files:
            tar.add(f, arcname=os.path.basename(f))
        for kind, name in zip((tarfile.SYMTYPE, tarfile.LNKTYPE), links):
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, os.path.basename(files[0])
            tar.addfile(info)
        info = tarfile.TarInfo("README.txt")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"notes"))
    loader = zoorepro.Loader(tar_path, "torchvision", batch_size=3)
    names = [n for batch_names, _, _ in loader for n in batch_names]
    assert names == [os.path.basename(f) for f in files] and loader.failed == [], (names, loader.failed)
    out = cli("--cache-dir", os.path.join(scratch, "cache-links"), "verify", "--model", MODEL,
              "--models-dir", models_dir, "--val", tar_path, "--json", "--no-cache",
              "--report-dir", os.path.join(scratch, "reports"))
    record = json.loads(out.stdout)
    assert loader.skipped == record["dataset"]["skipped"], (loader.skipped, record["dataset"]["skipped"])
    by_reason = {s["reason"]: s for s in loader.skipped}
    assert by_reason["link"]["count"] == 2 and by_reason["link"]["first"] == links, loader.skipped
    assert by_reason["not-an-image"]["first"] == ["README.txt"], loader.skipped
    print(f"Loader.skipped: {loader.skipped} (verify's dataset.skipped)")


# Each child installs Python's SIGINT handler itself: started from a background job (`nohup
# scripts/test_wheel.sh &`), a process inherits SIGINT ignored, and Python then installs none.
CHILD = r"""
import signal, sys, zoorepro
signal.signal(signal.SIGINT, signal.default_int_handler)
# 1,000 images at 1024 x 1024 on one thread, a few at a time: many seconds of decoding, so that
# the signal comes while the Loader works, whatever the machine's speed.
loader = zoorepro.Loader(sys.argv[1], "keras:caffe@1024", batch_size=4, threads=1)
try:
    for names, labels, batch in loader:
        print("batch", len(names), flush=True)
except KeyboardInterrupt:
    print("KeyboardInterrupt", flush=True)
    sys.exit(3)
print("done", flush=True)
"""


def symlinked_copies(copies):
    """The sample `copies` times over in one ImageFolder, as symlinks under new names."""
    root = os.path.join(scratch, f"sample-x{copies}")
    if not os.path.isdir(root):
        for wnid in os.listdir(sample):
            if not os.path.isdir(os.path.join(sample, wnid)):
                continue
            os.makedirs(os.path.join(root, wnid))
            for name in os.listdir(os.path.join(sample, wnid)):
                for i in range(copies):
                    os.symlink(os.path.join(sample, wnid, name),
                               os.path.join(root, wnid, f"copy{i}_{name}"))
    return root


def check_interrupt():
    child = subprocess.Popen([sys.executable, "-c", CHILD, symlinked_copies(10)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    line = child.stdout.readline()
    assert line.startswith("batch"), line
    sent = time.monotonic()
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=60)
    took = time.monotonic() - sent
    assert child.returncode == 3 and "KeyboardInterrupt" in out, (child.returncode, out, err)
    assert "panick" not in err and "RUST_BACKTRACE" not in err and err.strip() == "", err
    print(f"Ctrl-C: KeyboardInterrupt in the iterating process {took:.2f} s after SIGINT, nothing on stderr")


EVALUATE_CHILD = r"""
import os, signal, sys, time, numpy as np, zoorepro
signal.signal(signal.SIGINT, signal.default_int_handler)
calls = []
def slow(batch):
    calls.append(len(batch))
    print("call", len(calls), flush=True)
    time.sleep(30)
    return np.ones((len(batch), 1001), np.float32)
kwargs = dict(model="coral/mobilenet_v2_1.0_224_quant", cache_dir=sys.argv[2], batch_size=10,
              checkpoint_sha256="cd" * 32, report_dir=sys.argv[3], threads=1)
fast = lambda b: calls.append(1) or np.ones((len(b), 1001), np.float32)  # noqa: E731
try:
    zoorepro.evaluate(lambda b: slow(b) if len(calls) >= 2 else fast(b), sys.argv[1], **kwargs)
except KeyboardInterrupt:
    again = zoorepro.evaluate(lambda b: np.ones((len(b), 1001), np.float32), sys.argv[1], **kwargs)
    print("resumed", again["reused"], again["images"], flush=True)
    sys.exit(3)
"""


def check_evaluate_interrupt():
    """Ctrl-C while model_fn runs: KeyboardInterrupt in the caller, the batch before it stored."""
    child = subprocess.Popen([sys.executable, "-c", EVALUATE_CHILD, sample,
                              os.path.join(scratch, "cache-sigint"), os.path.join(scratch, "reports")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = child.stdout.readline()
    assert line.startswith("call 3"), line
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=120)
    # 20 rows stored; the rerun infers them again (the spot check: up to 64).
    assert child.returncode == 3 and "resumed 0 100" in out, (child.returncode, out, err)
    assert "panick" not in err, err
    print("Ctrl-C in evaluate: KeyboardInterrupt in the caller, the first two batches' 20 rows "
          "stored, and the rerun with the same checkpoint_sha256 infers them again (the spot check)")


def check_spot_check():
    """A changed model under the checkpoint_sha256 and name of a stored run is refused."""
    cache = os.path.join(scratch, "cache-spot")
    kwargs = dict(model=MODEL, cache_dir=cache, batch_size=16, threads=2, checkpoint_sha256="ef" * 32,
                  report_dir=os.path.join(scratch, "reports"))
    good, broken = ort_model_fn(2), ort_model_fn(2, BROKEN)
    first = zoorepro.evaluate(good, sample, name="mine", **kwargs)
    run = first["run_id"]
    message = expect_error(lambda: zoorepro.evaluate(broken, sample, name="mine", **kwargs),
                           f"the stored rows of run {run} were made by another model",
                           "have another top-1 or top-5 now (", "own checkpoint_sha256",
                           f"`zoorepro runs --delete {run}`")
    runs = json.loads(cli("--cache-dir", cache, "runs", "--json").stdout)
    assert [r["id"] for r in runs] == [run], runs
    again = zoorepro.evaluate(good, sample, name="mine", **kwargs)
    assert again["reused"] == 100 - 64 and again["top1_correct"] == first["top1_correct"], again
    other = zoorepro.evaluate(broken, sample, name="broken", **kwargs)
    assert other["reused"] == 0 and other["top1_correct"] != first["top1_correct"], other
    print(f"spot check: the broken model under the good one's checkpoint_sha256 and name is refused "
          f"({message[message.index('but '):message.index(', more')]}), the run kept (the good model "
          f"reuses 36 of 100 again, 64 rechecked); under its own name it is a new run")


def check_stops():
    """A run with no checkpoint_sha256 that stops is deleted, and the progress says it stopped."""
    cache = os.path.join(scratch, "cache-stops")
    child = subprocess.run([sys.executable, "-c", r"""
import sys, numpy as np, zoorepro
calls = []
def fn(x):
    calls.append(1)
    if len(calls) == 3:
        raise RuntimeError("CUDA out of memory")
    return np.ones((x.shape[0], 1001), np.float32)
try:
    zoorepro.evaluate(fn, sys.argv[1], model="coral/mobilenet_v2_1.0_224_quant", cache_dir=sys.argv[2],
                      report_dir=sys.argv[2], batch_size=10, threads=1)
except RuntimeError as e:
    print("raised", e)
""", sample, cache], capture_output=True, text=True, timeout=300)
    assert child.returncode == 0 and "raised CUDA out of memory" in child.stdout, (child.stdout, child.stderr)
    assert "verify: stopped: 20 images" in child.stderr and "finished" not in child.stderr, child.stderr
    runs = json.loads(cli("--cache-dir", cache, "runs", "--json").stdout)
    assert runs == [], runs
    print("a run with no checkpoint_sha256 that stops is deleted (nothing could resume it); its "
          "progress line says `stopped: 20 images`")


def check_argument_values():
    """Values starting with `-`, numbers out of every range, wrong types and bytes paths."""
    folder = os.path.join(scratch, "small")
    work = os.path.join(scratch, "dashes")
    os.makedirs(work, exist_ok=True)
    if not os.path.lexists(os.path.join(work, "-h")):
        os.symlink(folder, os.path.join(work, "-h"))
    ones = lambda x: np.ones((x.shape[0], 1001), np.float32)  # noqa: E731
    here = os.getcwd()
    os.chdir(work)
    try:
        result = zoorepro.evaluate(ones, "-h", model=MODEL, cache_dir="-c", report_dir="--json", limit=3)
        assert result["images"] == 3 and os.path.isdir("-c") and os.path.isdir("--json"), result
        assert sum(len(n) for n, _, _ in zoorepro.Loader("-h", "torchvision", batch_size=3)) == len(os.listdir(folder))
    finally:
        os.chdir(here)
    kwargs = dict(model=MODEL, cache_dir=os.path.join(scratch, "cache-args"),
                  report_dir=os.path.join(scratch, "reports"))
    expect_error(lambda: zoorepro.evaluate(ones, folder, limit=-1, **kwargs), "limit", "-1")
    expect_error(lambda: zoorepro.evaluate(ones, folder, batch_size=2**70, **kwargs), "batch_size")
    expect_error(lambda: zoorepro.evaluate(ones, folder, threads=-3, **kwargs), "threads")
    expect_error(lambda: zoorepro.evaluate(ones, folder, checkpoint_sha256=123, **kwargs), "checkpoint_sha256")
    expect_error(lambda: zoorepro.evaluate(ones, folder, name=5, **kwargs), "name")
    expect_error(lambda: zoorepro.evaluate(ones, 42, **kwargs), "val")
    expect_error(lambda: zoorepro.evaluate(42, folder, **kwargs), "model_fn")
    expect_error(lambda: zoorepro.Loader(folder, "torchvision", batch_size=2**70), "batch_size", str(2**70))
    expect_error(lambda: zoorepro.Loader(folder, "torchvision", threads=2**63), "threads", str(2**63))
    expect_error(lambda: zoorepro.Loader(folder, 7), "recipe")
    assert zoorepro.evaluate(ones, os.fsencode(folder), limit=2, **kwargs)["images"] == 2
    assert sum(len(n) for n, _, _ in zoorepro.Loader(os.fsencode(folder), "torchvision")) == len(os.listdir(folder))

    class Tensor:
        """What torch gives for a bfloat16 output: .numpy() refuses, .float() converts."""
        def __init__(self, values, bf16=True):
            self.values, self.bf16 = values, bf16
            self.dtype = "torch.bfloat16" if bf16 else "torch.float32"

        def detach(self):
            return self

        def cpu(self):
            return self

        def is_floating_point(self):
            return True

        def float(self):
            return Tensor(self.values, bf16=False)

        def numpy(self):
            if self.bf16:
                raise TypeError("Got unsupported ScalarType BFloat16")
            return self.values

    as_bf16 = zoorepro.evaluate(lambda x: Tensor(ones(x)), folder, limit=2, **kwargs)
    assert as_bf16["images"] == 2, as_bf16

    class Unconvertible(Tensor):
        def float(self):
            raise RuntimeError("no")

    expect_error(lambda: zoorepro.evaluate(lambda x: Unconvertible(ones(x)), folder, limit=2, **kwargs),
                 "model_fn returned a Unconvertible of torch.bfloat16", "cannot be converted")
    print("arguments: values starting with '-' are values (val='-h', cache_dir='-c', report_dir='--json'); "
          "negative and huge numbers, wrong types are zoorepro.Error naming the argument; bytes paths work; "
          "a bfloat16 torch output is widened, an unconvertible one is zoorepro.Error")


def check_threads_and_fork():
    """One Loader shared by threads; close() from another thread; a Loader after fork()."""
    import threading
    loader = zoorepro.Loader(sample, "torchvision", batch_size=4, threads=1)
    seen, errors = [], []

    def iterate():
        try:
            for names, _, _ in loader:
                seen.extend(names)
        except BaseException as e:  # noqa: BLE001 - any error is the finding
            errors.append(f"{type(e).__module__}.{type(e).__name__}: {e}")

    workers = [threading.Thread(target=iterate) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert errors == [] and sorted(seen) == sorted(set(seen)) and len(seen) == 100, (errors, len(seen))
    big = zoorepro.Loader(symlinked_copies(10), "keras:caffe@1024", batch_size=16, threads=1)
    threading.Timer(0.2, big.close).start()
    started = time.monotonic()
    got = sum(len(names) for names, _, _ in big)  # ends, without an error, once closed
    took = time.monotonic() - started
    assert got < 1000, got
    child = subprocess.run([sys.executable, "-c", r"""
import os, sys, zoorepro
loader = zoorepro.Loader(sys.argv[1], "torchvision", batch_size=10, threads=1)
next(loader)
pid = os.fork()
if pid == 0:
    try:
        next(loader)
        print("child: a batch", flush=True)
    except zoorepro.Error as e:
        print("child:", e, flush=True)
    os._exit(0)
print("parent:", 10 + sum(len(n) for n, _, _ in loader), flush=True)
os.waitpid(pid, 0)
""", sample], capture_output=True, text=True, timeout=60)
    assert "parent: 100" in child.stdout and "child: this Loader was made in process" in child.stdout, child
    assert "Make the Loader in the process that iterates it" in child.stdout, child.stdout
    print(f"threads: one Loader iterated by two threads gives each image once; close() from another "
          f"thread ends the iteration ({got} of 1000 images, {took:.2f} s); after fork() the child gets "
          f"zoorepro.Error, not a hang")


FIRST_ARRAY_CHILD = r"""
import os, signal, sys, threading, numpy as np, zoorepro
signal.signal(signal.SIGINT, signal.default_int_handler)
# SIGINT while the pass works in Rust, before this process made any numpy array: the first array
# (the batch handed to model_fn) comes after it.
threading.Timer(float(sys.argv[3]), lambda: os.kill(os.getpid(), signal.SIGINT)).start()
try:
    zoorepro.evaluate(lambda x: np.ones((x.shape[0], 1001), np.float32), sys.argv[1],
                      model="coral/mobilenet_v2_1.0_224_quant", cache_dir=sys.argv[2], report_dir=sys.argv[2],
                      batch_size=64, threads=1)
    print("finished", flush=True)
except KeyboardInterrupt:
    print("KeyboardInterrupt", flush=True)
except BaseException as e:
    print("raised", type(e).__name__, e, flush=True)
"""


def check_interrupt_before_first_array():
    """Ctrl-C before the process's first numpy array: KeyboardInterrupt, not a panic."""
    child = subprocess.run([sys.executable, "-c", FIRST_ARRAY_CHILD, symlinked_copies(10),
                            os.path.join(scratch, "cache-first-array"), "0.3"],
                           capture_output=True, text=True, timeout=300)
    assert child.stdout.strip() == "KeyboardInterrupt", (child.stdout, child.stderr)
    assert "panick" not in child.stderr and "internal error" not in child.stderr, child.stderr
    print("Ctrl-C before the first numpy array: KeyboardInterrupt, nothing from Rust on stderr")


POOL_CHILD = r"""
import functools, multiprocessing, sys, zoorepro
for method in ("fork", "spawn"):
    with multiprocessing.get_context(method).Pool(1) as pool:
        try:
            pool.map(functools.partial(zoorepro.preprocess, recipe="torchvision"), [sys.argv[1]])
            print(method, "no error", flush=True)
        except zoorepro.Error as e:
            print(method, type(e).__module__, type(e).__name__, e, flush=True)
"""


def check_error_pickles():
    """zoorepro.Error survives pickle: a worker process's error reaches the parent whole."""
    missing = os.path.join(scratch, "no-such-image.JPEG")
    message = expect_error(lambda: zoorepro.preprocess(missing, "torchvision"), missing)
    assert zoorepro.Error.__module__ == "zoorepro", zoorepro.Error.__module__
    back = pickle.loads(pickle.dumps(zoorepro.Error(message)))
    assert type(back) is zoorepro.Error and str(back) == message, (type(back), str(back))
    # `-c`: the spawned worker imports no __main__ of ours, only zoorepro.preprocess by name.
    child = subprocess.run([sys.executable, "-c", POOL_CHILD, missing], capture_output=True, text=True,
                           timeout=120)
    for method in ("fork", "spawn"):
        assert f"{method} zoorepro Error {message}" in child.stdout, (method, child.stdout, child.stderr)
    print("zoorepro.Error pickles (module zoorepro): a Pool worker's error reaches the parent with its "
          "message, fork and spawn")


def check_exit_with_daemon_threads():
    """The interpreter exits while daemon threads are inside zoorepro: exit status 0, no abort."""
    image = sorted(os.path.join(root, f) for root, _, names in os.walk(sample) for f in names
                   if f.endswith(".JPEG"))[0]
    child = r"""
import sys, threading, time, zoorepro
what, sample, image, scratch = sys.argv[1:]
busy = threading.Event()
def spin(batch):
    # Takes the GIL back every millisecond: the thread meets the interpreter's exit doing so.
    busy.set()
    while True:
        time.sleep(0.001)
def evaluate():
    zoorepro.evaluate(spin, sample, model="coral/mobilenet_v2_1.0_224_quant", cache_dir=scratch,
                      report_dir=scratch, threads=1, batch_size=4)
def preprocess():
    data = open(image, "rb").read()
    while True:
        zoorepro.preprocess(data, "torchvision")
        busy.set()
def loader():
    while True:
        for names, labels, batch in zoorepro.Loader(sample, "torchvision", batch_size=1, threads=1):
            busy.set()
for _ in range(2):
    threading.Thread(target=globals()[what], daemon=True).start()
if not busy.wait(120):
    sys.exit("the threads never got busy")
time.sleep(0.2)
print("exiting", flush=True)
"""
    for what in ("evaluate", "preprocess", "loader"):
        out = subprocess.run([sys.executable, "-c", child, what, sample, image, os.path.join(scratch, "cache-exit")],
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0 and out.stdout == "exiting\n", (what, out.returncode, out.stdout, out.stderr[-2000:])
        assert "Fatal" not in out.stderr and "FATAL" not in out.stderr, (what, out.stderr[-2000:])
    print("interpreter exit with two daemon threads inside evaluate's model_fn, preprocess or a Loader: "
          "exit status 0 each time")


def check_loader_passes():
    """Each `for` over a Loader is a pass over the whole set, as a torch DataLoader's epoch."""
    small = small_set()
    files = sorted(os.listdir(small))
    folder = os.path.join(scratch, "passes")
    os.makedirs(folder)
    for name in files[:4]:
        shutil.copyfile(os.path.join(small, name), os.path.join(folder, name))
    with open(os.path.join(small, files[4]), "rb") as f, open(os.path.join(folder, files[4]), "wb") as cut:
        cut.write(f.read(200))  # a JPEG cut short: a failed image, every pass
    with open(os.path.join(folder, "notes.txt"), "w") as notes:
        notes.write("not an image")  # skipped, every pass
    loader = zoorepro.Loader(folder, "torchvision", batch_size=2, threads=1)
    # Listed by the constructor: the first pass, the decoding it started, does not hold it.
    shutil.copyfile(os.path.join(small, files[5]), os.path.join(folder, files[5]))
    epochs, failed, skipped = [], [], []
    for epoch in range(3):
        epochs.append([n for names, _, _ in loader for n in names])
        failed.append([path for path, _ in loader.failed])
        skipped.append([(s["reason"], s["count"]) for s in loader.skipped])
    assert epochs == [files[:4], files[:4] + [files[5]], files[:4] + [files[5]]], epochs
    assert failed == [[files[4]]] * 3, failed
    assert skipped == [[("not-an-image", 1)]] * 3, skipped
    for names, _, _ in loader:
        break
    assert [n for names, _, _ in loader for n in names] == epochs[1]
    held = iter(loader)
    first, _, _ = next(held)
    rest = [n for names, _, _ in loader for n in names]  # the held iterator keeps its pass
    assert first + rest == epochs[1], (first, rest)
    assert list(held) == []
    loader.close()
    assert list(loader) == [] and list(loader) == []
    print("Loader passes: 3 epochs of the whole set (the first the constructor's, the next ones listing "
          "the set again), failed and skipped per pass, a pass left part-way started over, an iterator still alive "
          "keeps its pass, nothing after close()")


def check_messages():
    """Numbers out of range, empty paths and ids: what is wrong and what to do, in the same words
    from evaluate, Loader and preprocess, and the CLI's for the same flags."""
    folder = small_set()
    image = os.path.join(folder, sorted(os.listdir(folder))[0])
    kwargs = dict(model=MODEL, cache_dir=os.path.join(scratch, "cache-messages"),
                  report_dir=os.path.join(scratch, "reports"))
    ones = lambda x: np.ones((x.shape[0], 1001), np.float32)  # noqa: E731
    huge = 2**70
    for name, value, why in [
        ("limit", -1, "must be at least 1"),
        ("limit", huge, f"must be at most {2**64 - 1}"),
        ("batch_size", -1, "-1 is outside 1..=4096"),
        ("batch_size", huge, f"{huge} is outside 1..=4096"),
        ("threads", -1, "must be at least 1"),
        ("threads", 0, "must be at least 1"),
    ]:
        want = f"invalid value '{value}' for {name}: {why}"
        got = expect_error(lambda: zoorepro.evaluate(ones, folder, **{**kwargs, name: value}))
        assert got == want, (got, want)
        if name != "limit":
            got = expect_error(lambda: zoorepro.Loader(folder, "torchvision", **{name: value}))
            assert got == want, (got, want)
    for name, call in [
        ("val", lambda: zoorepro.evaluate(ones, "", **kwargs)),
        ("val", lambda: zoorepro.Loader("", "torchvision")),
        ("image", lambda: zoorepro.preprocess("", "torchvision")),
        ("cache_dir", lambda: zoorepro.evaluate(ones, folder, model=MODEL, cache_dir=b"")),
    ]:
        got = expect_error(call)
        assert got == f'{name} is an empty path: give a file or folder ("." for the current folder)', got
    got = expect_error(lambda: zoorepro.evaluate(ones, folder, **{**kwargs, "model": ""}))
    assert got == 'no manifest has id or name "" (`zoorepro models` lists them)', got
    compat = "invalid value '14' for pillow_compat; accepted values: 12, 13, simd"
    for call in (lambda: zoorepro.evaluate(ones, folder, pillow_compat=14, **kwargs),
                 lambda: zoorepro.Loader(folder, "torchvision", pillow_compat=14),
                 lambda: zoorepro.preprocess(image, "torchvision", pillow_compat=14)):
        assert expect_error(call) == compat, expect_error(call)
    verify = ["--cache-dir", os.path.join(scratch, "cache-messages"), "verify", "--models-dir", models_dir]
    for args, line in [
        (["--model", MODEL, "--val", folder, "--limit", "-1"],
         "invalid value '-1' for '--limit <N>': must be at least 1"),
        (["--model", MODEL, "--val", folder, "--batch=-1"],
         "invalid value '-1' for '--batch <N>': -1 is outside 1..=4096"),
        (["--model", MODEL, "--val", folder, "--threads", str(huge)],
         f"invalid value '{huge}' for '--threads <N>': {huge} is more than"),
        (["--model", MODEL, "--val", ""], "a value is required for '--val <PATH>' but none was supplied\n"),
        (["--model", "", "--val", folder], 'no manifest has id or name "" (`zoorepro models` lists them)\n'),
    ]:
        out = cli(*verify, *args)
        assert out.returncode == 2 and out.stderr.startswith(f"zoorepro: error: {line}"), (args, out)
        assert out.stderr.count("\n") == 1 and out.stdout == "", (args, out)
    print("messages: numbers out of range name their range (the same words from evaluate and Loader), "
          "empty paths and model ids say so (evaluate, Loader, preprocess); the CLI gives its one line, exit 2")


def check_odd_values():
    """A lone surrogate in any str or path argument, a long recipe, a store folder that is a file,
    a one-class output, oversized image bytes: each zoorepro.Error, one bounded line."""
    folder = small_set()
    image = os.path.join(folder, sorted(os.listdir(folder))[0])
    kwargs = dict(model=MODEL, cache_dir=os.path.join(scratch, "cache-odd"),
                  report_dir=os.path.join(scratch, "reports"), limit=1)
    ones = lambda x: np.ones((x.shape[0], 1001), np.float32)  # noqa: E731
    bad = "\ud800"
    for name, call in [
        ("name", lambda: zoorepro.evaluate(ones, folder, name=bad, **kwargs)),
        ("framework", lambda: zoorepro.evaluate(ones, folder, framework=bad, **kwargs)),
        ("recipe", lambda: zoorepro.evaluate(ones, folder, recipe=bad, **kwargs)),
        ("val", lambda: zoorepro.evaluate(ones, bad, **kwargs)),
        ("report_dir", lambda: zoorepro.evaluate(ones, folder, **{**kwargs, "report_dir": bad})),
        ("val", lambda: zoorepro.Loader(bad, "torchvision")),
        ("shard", lambda: zoorepro.Loader(folder, "torchvision", shard=bad)),
        ("pillow_compat", lambda: zoorepro.Loader(folder, "torchvision", pillow_compat=bad)),
        ("image", lambda: zoorepro.preprocess(bad, "torchvision")),
        ("model", lambda: zoorepro.preprocess(image, model=bad)),
        ("home", lambda: zoorepro.preprocess(image, model=MODEL, home=bad)),
    ]:
        got = expect_error(call)
        assert got == (f"{name} holds '\\ud800' at character 0, a lone surrogate that no UTF-8 text or "
                       "file name can hold: pass the text as it was decoded, without it"), got
    long = expect_error(lambda: zoorepro.evaluate(ones, folder, recipe="x" * 100000, **kwargs))
    assert len(long) < 3000 and long.count("… (100000 bytes)") == 2, long[:500]
    blocker = os.path.join(scratch, "a-file")
    open(blocker, "w").close()
    expect_error(lambda: zoorepro.evaluate(ones, folder, **{**kwargs, "cache_dir": blocker}),
                 "a-file is a file, not a folder")
    expect_error(lambda: zoorepro.evaluate(lambda x: np.ones((x.shape[0], 1), np.float32), folder, **kwargs),
                 "the model's output has 1 class, but")
    expect_error(lambda: zoorepro.preprocess(bytes((256 << 20) + 1), "torchvision"),
                 f"the image given as bytes is {(256 << 20) + 1} bytes, more than the 268435456-byte limit")
    print("odd values: a lone surrogate is zoorepro.Error naming the argument (11 arguments, one sentence), "
          "a 100 kB recipe is quoted in part, a file as cache_dir, 1 class and 256 MiB of bytes are refused")


check_exit_with_daemon_threads()
check_messages()
check_odd_values()
check_loader_passes()
check_error_pickles()
check_loader()
check_model_recipe()
check_skipped()
check_evaluate()
check_careless()
check_interrupt()
check_evaluate_interrupt()
check_spot_check()
check_stops()
check_argument_values()
check_threads_and_fork()
check_interrupt_before_first_array()
