#!/usr/bin/env bash
# Benchmarks `verify` at validation-set scale (issue: scale) and prints the figures; it asserts nothing.
# An ImageFolder of N symlinks (default 50,000) to the shared sample images, then `verify --no-cache` for
# pypi/efficientnet_lite0 and for a ResNet-50 with random weights (scripts/bench/make_random_resnet50.py: the real graph,
# so the real speed), printing end-to-end images/s, the preprocessing-stage and inference-stage rates the run
# record measures, the bottleneck it names, and peak resident memory.
#
# Usage: scripts/bench_scale.sh [--images N] [--provider cpu|cuda] [--batch B] [--threads T] [--models a,b]
#   on this 2-core CPU machine, e.g. --images 2000; on a GPU node: --provider cuda --batch 256
#   (--provider cuda needs the onnxruntime-gpu library: pass it with ORT_DYLIB_PATH).
set -euo pipefail
images=50000; provider=cpu; batch=""; threads=""; models="efficientnet_lite0,resnet50-random"
while [ $# -gt 0 ]; do
  case "$1" in
    --images) images="$2"; shift ;;
    --provider) provider="$2"; shift ;;
    --batch) batch="$2"; shift ;;
    --threads) threads="$2"; shift ;;
    --models) models="$2"; shift ;;
    *) sed -n '2,11p' "$0" >&2; exit 2 ;;
  esac
  shift
done
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/bench_env.sh"
"$py" scripts/bench/make_symlink_val.py "$shared/imagenet-sample" "$scratch/val" "$images" >/dev/null
machine_line
command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | sed 's/^/gpu: /'
echo "dataset: $images symlinks to the $(find "$shared/imagenet-sample" -name '*.JPEG' | wc -l) sample JPEGs; provider $provider"
flags=(--provider "$provider" --no-cache --json --report-dir "$scratch/reports")
[ -n "$batch" ] && flags+=(--batch "$batch")
[ -n "$threads" ] && flags+=(--threads "$threads")
IFS=, read -r -a list <<<"$models"
for m in "${list[@]}"; do
  case "$m" in
    efficientnet_lite0) args=(--model pypi/efficientnet_lite0 --onnx "$shared/models/pypi__efficientnet_lite0.onnx") ;;
    resnet50-random)
      [ -f "$scratch/resnet50.onnx" ] || "$py" scripts/bench/make_random_resnet50.py "$scratch/resnet50.onnx" >/dev/null
      args=(--model pytorch/resnet50 --onnx "$scratch/resnet50.onnx") ;;
    *) args=(--model "$m") ;;
  esac
  "$py" - "$bin" verify "${args[@]}" --val "$scratch/val" "${flags[@]}" <<'PY'
import json, resource, subprocess, sys, time
start = time.perf_counter()
out = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
wall = time.perf_counter() - start
if out.returncode not in (0, 1):
    sys.exit(out.stderr.decode())
r = json.loads(out.stdout)
p, t = r["provenance"], r["provenance"]["throughput"]
print("%s: %d images in %.1f s wall (process), batch %d, %d threads" % (r["model_id"], r["images"], wall, p["batch"], p["threads"]))
print("  end to end      %8.1f images/s" % t["end_to_end_images_per_second"])
print("  preprocessing   %8.1f images/s (decode + resample + normalise, all cores)" % t["preprocess_images_per_second"])
print("  inference       %8.1f images/s (%s)" % (t["inference_images_per_second"], p["provider"]))
print("  bottleneck      %s" % t["bottleneck"])
print("  peak RSS        %.0f MiB" % (resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024))
PY
done
