"""Checks of native runs (zoorepro.evaluate) that concern their truth, run by scripts/test_wheel.sh
inside the fresh venv, from a folder outside the checkout, after check_api.py:

    python check_native.py SHARED SCRATCH

- two processes under one checkpoint_sha256 and name at once: the second is refused (the run's
  key is claimed), and the first's record is its own model's alone;
- the spot check of a resumed run compares 64 stored images whatever the batch (batch_size=1
  refuses the broken copy), and the whole top-5: a model with the same top-1s and other ranks
  2 to 5 is refused;
- `zoorepro table`: a native run under model=ID is a row of its own, marked native with the
  caller's name in every format, beside (never in place of) the ONNX file's run;
- `zoorepro merge` of native shards: the merged record's runtime fields are the unsharded native
  record's, and it says its shards were joined on the caller's name and digest only;
- reports: framework= and name= with line breaks and HTML stay text in the Markdown and HTML
  reports, which name the native runtime (no ONNX Runtime row); NaN outputs of a resumed run are
  said to be this pass's; a blank name= or framework= is refused.
"""
import hashlib
import json
import os
import subprocess
import sys
import zlib

import numpy as np
import zoorepro
from wheel_checks import BROKEN, MODEL, ONNX, cli, expect_error, models_dir, sample, scratch, shared
with open(ONNX, "rb") as f:
    DIGEST = hashlib.sha256(f.read()).hexdigest()


def ort_model_fn(path=ONNX):
    """onnxruntime's Python session with the options verify's sessions have, one thread."""
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.use_deterministic_compute = True
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda batch: session.run(None, {name: batch})[0]


CONCURRENT_CHILD = r"""
import sys, time, zoorepro
sys.path.insert(0, sys.argv[3])
# check_native's module reads SHARED and SCRATCH from sys.argv as its own command line does.
from check_native import ort_model_fn, sample, MODEL, DIGEST
inner = ort_model_fn()
def slow(batch):
    print("batch", flush=True)
    time.sleep(0.3)
    return inner(batch)
r = zoorepro.evaluate(slow, sample, model=MODEL, cache_dir=sys.argv[2], report_dir=sys.argv[2],
                      name="mine", checkpoint_sha256=DIGEST, threads=1, batch_size=8)
print("record", r["top1_correct"], r["top5_correct"], r["reused"], r["run_id"], flush=True)
"""


def check_concurrent_processes():
    """The good model runs in a child; the broken one starts under its digest and name meanwhile."""
    cache = os.path.join(scratch, "cache-concurrent")
    child = subprocess.Popen([sys.executable, "-c", CONCURRENT_CHILD, shared, cache,
                              os.path.dirname(os.path.abspath(__file__))],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert child.stdout.readline().startswith("batch"), child.stderr.read()
    message = expect_error(
        lambda: zoorepro.evaluate(ort_model_fn(BROKEN), sample, model=MODEL, cache_dir=cache,
                                  report_dir=cache, name="mine", checkpoint_sha256=DIGEST,
                                  threads=1, batch_size=8),
        f"process {child.pid} is running a model under the name \"mine\"",
        "wait for that process to finish", "its own name=")
    out, err = child.communicate(timeout=300)
    assert child.returncode == 0, (out, err)
    record = out.split("record ")[1].split()
    assert record[:3] == ["72", "93", "0"], out
    assert f"(run {record[3]})" in message, (message, out)
    runs = json.loads(cli("--cache-dir", cache, "runs", "--json").stdout)
    assert [r["id"] for r in runs] == [int(record[3])], runs
    print("two processes under one checkpoint_sha256 and name: the second is refused while the "
          "first runs (naming its process and run); the first's record is its own, 72/93 of 100")


def check_spot_check():
    cache = os.path.join(scratch, "cache-spot-native")
    kwargs = dict(model=MODEL, cache_dir=cache, report_dir=cache, name="mine", checkpoint_sha256=DIGEST,
                  threads=1)
    good = ort_model_fn()
    first = zoorepro.evaluate(good, sample, batch_size=1, **kwargs)
    run = first["run_id"]
    message = expect_error(lambda: zoorepro.evaluate(ort_model_fn(BROKEN), sample, batch_size=1, **kwargs),
                           f"the stored rows of run {run} were made by another model", "of the 64 stored")
    again = zoorepro.evaluate(good, sample, batch_size=1, **kwargs)
    assert (again["top1_correct"], again["reused"]) == (72, 36), again

    def other_top5(batch):
        """The good model's top-1, ranks 2 to 5 replaced by classes 996 to 999."""
        scores = good(batch)
        out = np.zeros_like(scores)
        for i, top in enumerate(scores.argmax(1)):
            out[i, 996:1000] = 1.0
            out[i, top] = 2.0
        return out

    top5 = expect_error(lambda: zoorepro.evaluate(other_top5, sample, batch_size=1, **kwargs),
                        "have another top-1 or top-5 now", "stored top-5 ")
    print(f"spot check: at batch_size=1 the broken copy is compared on 64 images and refused "
          f"({message[message.index('but '):message.index(' stored images')]}); the good model reuses 36 "
          f"of 100; the same top-1s with other ranks 2-5 are refused "
          f"({top5[top5.index('but '):top5.index(' stored images')]})")


def check_table():
    cache = os.path.join(scratch, "cache-table-native")
    out = cli("--cache-dir", cache, "verify", "--model", MODEL, "--models-dir", models_dir, "--val", sample,
              "--report-dir", cache, "--json")
    assert out.returncode == 0, out.stderr
    onnx_run = json.loads(out.stdout)["store"]["run_id"]
    port = zoorepro.evaluate(ort_model_fn(BROKEN), sample, model=MODEL, cache_dir=cache, report_dir=cache,
                             threads=1, name="my torch port", framework="torch")
    rows = json.loads(cli("--cache-dir", cache, "table", "--format", "json").stdout)
    by_run = {row["run"]: row for row in rows}
    assert sorted(by_run) == sorted([onnx_run, port["run_id"]]), rows
    assert "native" not in by_run[onnx_run] and by_run[onnx_run]["top1"] == 72.0, by_run[onnx_run]
    native = by_run[port["run_id"]]
    assert native["framework"] == "native (torch)" and native["native"]["name"] == "my torch port", native
    for form in ("markdown", "csv", "text", "html"):
        text = cli("--cache-dir", cache, "table", "--format", form).stdout
        assert text.count("(native: my torch port)") >= 1 and text.count("native (torch)") >= 1, (form, text)
    print("table: the native run under model=ID is a row of its own (native (torch), \"my torch port\") "
          "in every format; the ONNX run keeps its row (72.0)")


def check_merge():
    root = os.path.join(scratch, "native-shards")
    kwargs = dict(model=MODEL, report_dir=os.path.join(root, "r"), threads=1, name="mine",
                  framework="onnxruntime-python", checkpoint_sha256=DIGEST)
    fn = ort_model_fn()
    for k in range(2):
        zoorepro.evaluate(fn, sample, cache_dir=os.path.join(root, f"s{k}"), shard=f"{k}/2", **kwargs)
    out = cli("--cache-dir", os.path.join(root, "m"), "merge", os.path.join(root, "s0"), os.path.join(root, "s1"),
              "--report-dir", os.path.join(root, "r"), "--json")
    assert out.returncode == 0, out.stderr
    merged = json.loads(out.stdout)
    assert "joined on the caller's name and checkpoint_sha256 only" in out.stderr, out.stderr
    whole = zoorepro.evaluate(fn, sample, cache_dir=os.path.join(root, "one"), **kwargs)["record"]
    fields = ("provider", "graph_optimization_level", "deterministic_compute", "ort_version", "ort_library")
    runtime = [{k: r["provenance"][k] for k in fields} for r in (merged, whole)]
    assert runtime[0] == runtime[1], runtime
    assert merged["top1_correct"] == whole["top1_correct"] == 72, (merged["top1_correct"], whole["top1_correct"])
    summary = merged["verdict"]["summary"]
    assert "Its 2 shards ran natively (zoorepro.evaluate) and were joined on the caller's name and " \
           "checkpoint_sha256 only" in summary, summary
    assert merged["onnx"]["sidecar"]["native"]["merged_shards"] == 2, merged["onnx"]
    print(f"merge of native shards: runtime {runtime[0]} as the unsharded record's; the record says its "
          f"shards were joined on the caller's name and digest only")


def check_reports():
    cache = os.path.join(scratch, "cache-native-reports")
    hostile = "torch)\n\n# VERIFIED: top-1 99.9%\n\n<b>pinned</b> ("
    result = zoorepro.evaluate(lambda x: np.zeros((x.shape[0], 1001), np.float32), sample, model=MODEL,
                               cache_dir=cache, report_dir=cache, limit=3, threads=1, name=hostile,
                               framework=hostile)
    md = open([p for p in result["reports"] if p.endswith(".md")][0]).read()
    html = open([p for p in result["reports"] if p.endswith(".html")][0]).read()
    assert not any(line.startswith("# VERIFIED") for line in md.splitlines()), md
    assert "| runtime / threads / batch | native (torch)\\n" in md and "| ONNX Runtime |" not in md, md
    assert "ONNX Runtime library" not in html and "<b>pinned" not in html, html
    assert "the caller&#39;s function (no ONNX Runtime)" in html or "the caller's function (no ONNX Runtime)" in html
    # A blank name or framework would show the model id or "native ()" in their place.
    zeros = lambda x: np.zeros((x.shape[0], 1001), np.float32)  # noqa: E731
    for blank in ("", " "):
        expect_error(lambda: zoorepro.evaluate(zeros, sample, model=MODEL, cache_dir=cache, limit=3,
                                               name=blank), "name= is empty")
        expect_error(lambda: zoorepro.evaluate(zeros, sample, model=MODEL, cache_dir=cache, limit=3,
                                               framework=blank), "framework= is empty")

    good = ort_model_fn()

    def nan_some(x):
        """NaN in half the classes of a quarter of the images, chosen by their tensors."""
        scores = good(x).copy()
        for i in range(len(scores)):
            if zlib.crc32(x[i].tobytes()[::1009]) % 4 == 0:
                scores[i, 500:] = np.nan
        return scores

    kwargs = dict(model=MODEL, cache_dir=cache, report_dir=cache, threads=1, name="nan", checkpoint_sha256="d" * 64)
    first = zoorepro.evaluate(nan_some, sample, **kwargs)
    again = zoorepro.evaluate(nan_some, sample, **kwargs)
    counted = (first["record"]["provenance"]["nan_outputs"], again["record"]["provenance"]["nan_outputs"])
    assert counted[0] > counted[1] > 0 and again["reused"] == 36, (counted, again["reused"])
    md = open([p for p in again["reports"] if p.endswith(".md")][0]).read()
    line = [l for l in md.splitlines() if l.startswith("| model outputs with NaN")][0]
    assert f"{counted[1]} of the 64 images inferred in this pass" in line and \
        "the 36 images answered by the store are not counted" in line, line
    print(f"reports: framework= and name= stay text in Markdown and HTML, the runtime row names the "
          f"framework; NaN outputs {counted[0]}, resumed: {line[2:]}")


if __name__ == "__main__":
    check_concurrent_processes()
    check_spot_check()
    check_table()
    check_merge()
    check_reports()
