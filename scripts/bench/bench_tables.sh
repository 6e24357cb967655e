#!/usr/bin/env bash
# Benchmarks the bookkeeping commands (issue: tables) and prints the figures; it asserts nothing.
#   - import-seed of all 34 benchmarking-keras-pytorch models: the 4 shared caches plus synthetic caches of the
#     same shapes and dtypes (int64 preds, float32 probs; written here with NumPy) for the other 30;
#   - table over the 34 imported runs (original labels, and ReaL), median of 20 runs;
#   - compare of two 50,000-image runs;
#   - the HTML table of the 34 runs rendered in headless Chromium (scripts/report/check_html.sh).
# Usage: scripts/bench/bench_tables.sh
set -euo pipefail
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/bench_env.sh"
seed="$scratch/seed"
mkdir -p "$seed/keras_imagenet" "$seed/pytorch_imagenet"
cp "$shared"/reference/benchmarking-keras-pytorch/keras_imagenet/*.npy "$seed/keras_imagenet/"
cp "$shared"/reference/benchmarking-keras-pytorch/pytorch_imagenet/*.npy "$seed/pytorch_imagenet/"
"$py" - "$seed" <<'PY'
import os, sys
import numpy as np
seed = sys.argv[1]
keras = ["densenet121", "densenet169", "densenet201", "inceptionresnetv2", "inceptionv3", "mobilenet", "mobilenetV2",
         "nasnetlarge", "nasnetmobile", "resnet50", "vgg16", "vgg19", "xception"]
torch = ["alexnet", "densenet121", "densenet161", "densenet169", "densenet201", "inception_v3", "resnet18", "resnet34",
         "resnet50", "resnet101", "resnet152", "squeezenet1_0", "squeezenet1_1", "vgg11", "vgg11_bn", "vgg13",
         "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn"]
rng = np.random.default_rng(0)
labels = np.repeat(np.arange(1000), 50)
for framework, models in (("keras", keras), ("pytorch", torch)):
    for m in models:
        base = os.path.join(seed, "%s_imagenet" % framework, "%s_%s_imagenet_top5" % (m, framework))
        if os.path.exists(base + "preds.npy"):
            continue
        preds = rng.integers(0, 1000, size=(50000, 5), dtype=np.int64)
        hit = rng.random(50000) < 0.7
        preds[hit, rng.integers(0, 5, size=hit.sum())] = labels[hit]
        probs = rng.random((50000, 5)).astype(np.float32)
        np.save(base + "preds.npy", preds)
        np.save(base + "probs.npy", probs)
print("caches:", sum(len(os.listdir(os.path.join(seed, d))) for d in os.listdir(seed)) // 2)
PY
cache="$scratch/cache"
"$py" - "$bin" "$cache" "$seed" <<'PY'
import json, statistics, subprocess, sys, time
bin, cache, seed = sys.argv[1:4]
def timed(*args, repeat=1):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        out = subprocess.run([bin, "--cache-dir", cache, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True)
        times.append(time.perf_counter() - start)
    return times, out
t, _ = timed("import-seed", seed)
print("import-seed, 34 models x 50,000 rows: %.2f s wall" % t[0])
t, _ = timed("import-seed", seed)
print("import-seed again (all already present): %.2f s" % t[0])
t, out = timed("table", "--format", "json", repeat=20)
rows = json.loads(out.stdout)
print("table (original labels), %d runs: median %.3f s, max %.3f s over 20" % (len(rows), statistics.median(t), max(t)))
t, _ = timed("table", "--labels", "real", repeat=5)
print("table --labels real, 34 runs: median %.3f s over 5" % statistics.median(t))
t, _ = timed("table", "--labels", "all", repeat=3)
print("table --labels all, 34 runs: median %.3f s over 3" % statistics.median(t))
t, _ = timed("compare", "pytorch/alexnet", "pytorch/resnet152", "--format", "json", repeat=5)
print("compare of two 50,000-image runs: median %.3f s over 5" % statistics.median(t))
PY
# The HTML table of all 34 runs (4 real caches, 30 synthetic) in headless Chromium: it must load without a console
# message with its charts drawn; the screenshot is kept when ZOOREPRO_KEEP_SCREENSHOT names a folder.
"$bin" --cache-dir "$cache" table --labels all --format html > "$scratch/table-34.html"
bash "$repo/scripts/report/check_html.sh" --screenshot "${ZOOREPRO_KEEP_SCREENSHOT:-$scratch/shots}" "$scratch/table-34.html"
