#!/usr/bin/env python3
"""Proves that each exported ONNX file computes what its framework computes, on the tensors zoorepro feeds it.

For each model (an id whose export lies under models/pytorch or models/keras, with its sidecar):
  1. `zoorepro verify --limit N --predictions` runs the first N images of --val through zoorepro itself: its
     preprocessing, its ONNX Runtime session, its top-5 indices and scores;
  2. `zoorepro preprocess` writes the same N images as the exact float32 tensor of the manifest's recipe;
  3. that tensor goes through the framework model (rebuilt as the export script built it: same weights, or the
     same seed for --weights none, in eval / inference mode) and through ONNX Runtime's Python wheel at the
     release zoorepro loads (1.32.0, all graph optimisations, one thread, deterministic compute) for the whole
     output vector;
  4. reported: the max absolute difference framework vs ONNX on probabilities (softmax of the logits for
     torchvision; the Keras applications output probabilities), on the raw outputs, and between the framework's
     scores and zoorepro's top-5 scores; top-1 agreement framework vs zoorepro;
  5. where the zoorepro wheel is installed in this Python (`pip install zoorepro`, scripts/build_wheel.sh): the
     framework model run natively through `zoorepro.evaluate` on the same N images, stored beside step 1's ONNX
     run, and the pair compared as any two runs (`zoorepro compare`): top-1 agreement, images whose top-1
     changed, identical top-5 sets, McNemar's exact p. Without the wheel this step says so and is skipped.

Exit status 0 when every model is within --tolerance (default 1e-4 on probabilities) and agrees on every top-1,
1 otherwise, 2 on a usage or setup error.

Usage (packages: scripts/export/requirements-export.txt; build zoorepro first: cargo build --release):
    scripts/export/export_torchvision.py --models resnet18,inception_v3 --weights none
    scripts/export/export_keras.py --models resnet50,mobilenet,densenet121 --weights none
    scripts/export/check_export.py --models pytorch/resnet18,pytorch/inception_v3,keras/resnet50,keras/mobilenet,keras/densenet121
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "scripts", "export"))


def fail(message):
    print("check_export: error: " + message, file=sys.stderr)
    sys.exit(2)


def zoorepro_binary(explicit):
    candidates = [explicit, os.environ.get("ZOOREPRO_BIN"),
                  os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target")), "release", "zoorepro"),
                  shutil.which("zoorepro")]
    for path in candidates:
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    fail("no zoorepro binary: run `cargo build --release`, or pass --zoorepro / set ZOOREPRO_BIN")


def exported_ids():
    ids = []
    for framework in ("pytorch", "keras"):
        folder = os.path.join(REPO, "models", framework)
        if os.path.isdir(folder):
            ids += ["%s/%s" % (framework, f[:-5]) for f in sorted(os.listdir(folder)) if f.endswith(".onnx")]
    return ids


def run(command):
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode not in (0, 1):
        fail("%s failed (%d): %s" % (" ".join(command[:3]), done.returncode, done.stderr.strip()))
    return done


def framework_model(framework, name, weights):
    """The framework's model and a function from an input batch (numpy) to its first output (numpy float32)."""
    if framework == "pytorch":
        import torch
        import export_torchvision
        model, _ = export_torchvision.build(name, weights)

        def forward(batch):
            with torch.no_grad():
                return model(torch.from_numpy(batch)).numpy()
        return forward
    import export_keras
    model, _ = export_keras.build(name, weights)

    def forward(batch):
        return np.asarray(model(batch, training=False))
    return forward


def onnx_runtime(path):
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.use_deterministic_compute = True
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda batch: session.run(None, {name: batch})[0], ort.__version__


def softmax(x):
    x = x.astype(np.float64)
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def check(model_id, args, binary, scratch):
    framework, name = model_id.split("/", 1)
    manifest_path = os.path.join(REPO, "manifests", model_id.replace("/", "__") + ".json")
    if not os.path.isfile(manifest_path):
        fail("no manifest %s" % manifest_path)
    manifest = json.load(open(manifest_path))
    onnx_path = os.path.join(REPO, "models", manifest["file"])
    if not os.path.isfile(onnx_path + ".json"):
        fail("%s has no sidecar %s.json: export it with scripts/export/export_%s.py" % (
            onnx_path, onnx_path, "torchvision" if framework == "pytorch" else "keras"))
    sidecar = json.load(open(onnx_path + ".json"))
    recipe = args.recipe or manifest["default_recipe"]
    work = os.path.join(scratch, model_id.replace("/", "__"))
    os.makedirs(work)

    # 1. zoorepro end to end on the first N images.
    predictions = os.path.join(work, "predictions.jsonl")
    cache = os.path.join(work, "cache")
    verified = run([binary, "--cache-dir", cache, "verify", "--model", model_id, "--recipe", recipe, "--val", args.val,
                    "--limit", str(args.images), "--threads", "1", "--report-dir", os.path.join(work, "reports"),
                    "--predictions", predictions, "--json"])
    onnx_run = json.loads(verified.stdout)["store"]["run_id"]
    rows = [json.loads(line) for line in open(predictions)]
    paths = [os.path.join(args.val, row["file"]) for row in rows]
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        fail("--val must be a folder (ImageFolder or flat) so that its files can be preprocessed: %s" % missing[0])

    # 2. The same images as zoorepro's tensor.
    tensor_path = os.path.join(work, "tensor.npy")
    run([binary, "preprocess", "--model", model_id, "--recipe", recipe, "--out", tensor_path] + paths)
    batch = np.load(tensor_path)

    # 3. Framework and ONNX Runtime on that tensor.
    forward = framework_model(framework, name, sidecar["weights"])
    expected = forward(batch).astype(np.float32)
    onnx_forward, ort_version = onnx_runtime(onnx_path)
    got = onnx_forward(batch)
    offset = manifest["output"]["label_offset"]
    is_logits = manifest["output"]["kind"] == "logits"
    prob_expected = softmax(expected) if is_logits else expected.astype(np.float64)
    prob_got = softmax(got) if is_logits else got.astype(np.float64)

    zoo_top1 = np.array([row["top5"][0] for row in rows])
    fw_top1 = expected[:, offset:].argmax(axis=1)
    zoo_scores = np.array([row["scores"] for row in rows], dtype=np.float64)
    fw_scores = np.take_along_axis(expected[:, offset:].astype(np.float64), np.array([row["top5"] for row in rows]),
                                   axis=1)
    result = {
        "model": model_id,
        "recipe": recipe,
        "weights": sidecar["weights"],
        "exporter": sidecar["exporter"],
        "opset": sidecar["opset"],
        "images": len(rows),
        "onnxruntime": ort_version,
        "max_abs_diff_probabilities": float(np.abs(prob_expected - prob_got).max()),
        "max_abs_diff_raw": float(np.abs(expected.astype(np.float64) - got).max()),
        "max_abs_raw_output": float(np.abs(expected).max()),
        "max_abs_diff_zoorepro_top5_scores": float(np.abs(fw_scores - zoo_scores).max()),
        "top1_agreement": float((zoo_top1 == fw_top1).mean()),
        # Random weights tend to put every image in few classes; say how many, so agreement is read for what it is.
        "distinct_top1": int(len(set(fw_top1.tolist()))),
        "top1_agreement_onnxruntime": float((got[:, offset:].argmax(axis=1) == fw_top1).mean()),
    }
    result["native_vs_onnx"] = native_pair(model_id, recipe, forward, args, binary, cache, onnx_run, work)
    result["ok"] = (result["max_abs_diff_probabilities"] <= args.tolerance and result["top1_agreement"] == 1.0)
    return result


def native_pair(model_id, recipe, forward, args, binary, cache, onnx_run, work):
    """Step 5: the framework model through zoorepro.evaluate, compared with the ONNX run by `zoorepro compare`;
    None where the wheel is not installed here."""
    try:
        import zoorepro
    except ImportError:
        return None
    framework = model_id.split("/", 1)[0]
    native = zoorepro.evaluate(lambda batch: forward(batch), args.val, model=model_id, recipe=recipe,
                               name="%s (%s, native)" % (model_id, framework), framework=framework,
                               cache_dir=cache, limit=args.images, threads=1,
                               report_dir=os.path.join(work, "reports"))
    compared = run([binary, "--cache-dir", cache, "compare", str(onnx_run), str(native["run_id"]), "--format", "json"])
    pair = json.loads(compared.stdout)
    return {
        "native_run": native["run_id"],
        "onnx_run": onnx_run,
        "images": pair["images"],
        "top1_agreement": pair["top1_agreement"],
        "top1_changed": len(pair["top1_differs"]),
        "identical_top5_sets": pair["identical_top5_sets"],
        "only_onnx_correct": pair["only_a_correct"],
        "only_native_correct": pair["only_b_correct"],
        "mcnemar_exact_p": pair["mcnemar_exact_p"],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", help="comma-separated manifest ids (default: every export under models/)")
    ap.add_argument("--val", default=os.path.join(REPO, "..", "shared", "imagenet-sample"),
                    help="an ImageFolder or flat folder of JPEGs (default: ../shared/imagenet-sample)")
    ap.add_argument("--images", type=int, default=16, help="the first N images of --val (default 16)")
    ap.add_argument("--recipe", help="a recipe of the manifest (default: its default recipe)")
    ap.add_argument("--tolerance", type=float, default=1e-4, help="max abs difference on probabilities")
    ap.add_argument("--zoorepro", help="the zoorepro binary (default: $ZOOREPRO_BIN, target/release, PATH)")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    binary = zoorepro_binary(args.zoorepro)
    ids = [m.strip() for m in args.models.split(",")] if args.models else exported_ids()
    if not ids:
        fail("no exports under models/pytorch or models/keras: run scripts/export/export_torchvision.py / export_keras.py")
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        for model_id in ids:
            result = check(model_id, args, binary, scratch)
            results.append(result)
            print("%-22s %-26s weights %-13s max|dp| %.3g  max|draw| %.3g (outputs up to %.3g)  "
                  "top5 scores vs zoorepro %.3g  top-1 agree %d/%d (%d classes)  %s" % (
                      model_id, result["recipe"], result["weights"], result["max_abs_diff_probabilities"],
                      result["max_abs_diff_raw"], result["max_abs_raw_output"],
                      result["max_abs_diff_zoorepro_top5_scores"], round(result["top1_agreement"] * result["images"]),
                      result["images"], result["distinct_top1"], "ok" if result["ok"] else "MISMATCH"))
            pair = result["native_vs_onnx"]
            if pair is None:
                print("%-22s native vs ONNX: skipped (no zoorepro wheel in this Python: pip install zoorepro)" % model_id)
            else:
                print("%-22s native run %d vs ONNX run %d (zoorepro compare): top-1 agree %d/%d, %d changed, "
                      "top-5 sets identical %d, only ONNX right %d, only native right %d, McNemar p %.3g" % (
                          model_id, pair["native_run"], pair["onnx_run"], pair["top1_agreement"], pair["images"],
                          pair["top1_changed"], pair["identical_top5_sets"], pair["only_onnx_correct"],
                          pair["only_native_correct"], pair["mcnemar_exact_p"]))
            sys.stdout.flush()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
            f.write("\n")
    sys.exit(0 if all(r["ok"] for r in results) else 1)


if __name__ == "__main__":
    main()
