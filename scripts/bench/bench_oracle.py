#!/usr/bin/env python3
"""The Python baseline for scripts/bench/bench_verify.sh: the oracle's own pipeline (shared/oracle/reference_eval.py:
Pillow decode + resize, NumPy float32 normalisation, onnxruntime CPU) doing the work of `zoorepro verify --no-cache`
once: preprocess every image, run batched inference, rank. Prints one JSON object with images/s."""
import argparse
import json
import os
import sys
import time

import numpy as np
import onnxruntime as ort


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--val", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=32)
    args = ap.parse_args()

    sys.path.insert(0, os.path.join(args.shared, "oracle"))
    import reference_eval as oracle  # noqa: E402  (the oracle's preprocess(), list_images(), rank())

    with open(os.path.join(args.shared, "models", "models.json")) as f:
        spec = json.load(f)
    model = next(m for m in spec["models"] if m["id"] == args.model)
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(os.path.join(args.shared, "models", model["file"]), sess_options=so,
                                providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    off = int(model["label_offset"])
    items = oracle.list_images(args.val)

    start = time.perf_counter()
    xs = [oracle.preprocess(p, model["preprocess"]) for p, _ in items]
    preprocessed = time.perf_counter()
    top5 = []
    for i in range(0, len(xs), args.batch_size):
        out = sess.run(None, {name: np.stack(xs[i:i + args.batch_size])})[0]
        top5.extend(oracle.rank(row[off:off + 1000])[:5] for row in out)
    done = time.perf_counter()
    n = len(items)
    print(json.dumps({
        "model": args.model, "images": n,
        "end_to_end_images_per_second": n / (done - start),
        "preprocess_images_per_second_one_core": n / (preprocessed - start),
        "inference_images_per_second": n / (done - preprocessed),
    }))


if __name__ == "__main__":
    main()
