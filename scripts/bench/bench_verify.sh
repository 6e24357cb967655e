#!/usr/bin/env bash
# Benchmarks `zoorepro verify` (issue: verify) and prints the figures; it asserts nothing.
#   1. On ../shared/imagenet-sample (100 JPEGs) with 2 threads, for pypi/efficientnet_lite0 and
#      coral/mobilenet_v2_1.0_224_quant: end-to-end images/s of `verify --no-cache` (best of 3), the
#      inference-only and preprocessing-only rates the run record measures for its stages, the
#      preprocessing rate on ONE core (in process, examples/preprocess_throughput.rs; and through the
#      `preprocess` command with RAYON_NUM_THREADS=1, which adds process start and writing the .npy), and
#      the oracle's Python pipeline doing the same work; and the pipeline's ceiling on this machine,
#      1 / (1/I + 1/(c*P)) with I ONNX Runtime's inference-only rate on tensors in memory (same session
#      options, examples/inference_throughput.rs), P the one-core preprocessing rate and c the 2 threads,
#      with verify's end-to-end rate as a fraction of it.
#   2. Peak resident memory of `verify --no-cache` over a 50,000-entry ImageFolder of symlinks to the sample.
# Usage: scripts/bench/bench_verify.sh [--skip-memory | --memory-only] [--memory-images N]
set -euo pipefail
skip_memory=0; skip_speed=0; memory_images=50000
while [ $# -gt 0 ]; do
  case "$1" in
    --skip-memory) skip_memory=1 ;;
    --memory-only) skip_speed=1 ;;
    --memory-images) memory_images="$2"; shift ;;
    *) echo "usage: $0 [--skip-memory | --memory-only] [--memory-images N]" >&2; exit 2 ;;
  esac
  shift
done
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/bench_env.sh"
sample="$shared/imagenet-sample"
field() { "$py" -c "import json,sys; r=json.load(sys.stdin); print(eval('r' + sys.argv[1]))" "$1"; }

machine_line
cargo build --release --locked -q --example preprocess_throughput --example inference_throughput
throughput="${CARGO_TARGET_DIR:-$repo/target}/release/examples/preprocess_throughput"
inference="${CARGO_TARGET_DIR:-$repo/target}/release/examples/inference_throughput"
images=()
while IFS= read -r f; do images+=("$f"); done < <(find "$sample" -name '*.JPEG' | sort)
[ "$skip_speed" -eq 1 ] || for model in pypi/efficientnet_lite0 coral/mobilenet_v2_1.0_224_quant; do
  onnx="$shared/models/${model/\//__}.onnx"
  common=(verify --model "$model" --onnx "$onnx" --val "$sample" --no-cache --json --threads 2 --report-dir "$scratch/reports")
  "$bin" "${common[@]}" >/dev/null 2>&1   # warm the page cache
  best=0; record=""
  for _ in 1 2 3; do
    out="$("$bin" "${common[@]}" 2>/dev/null)"
    rate="$(field "['provenance']['images_per_second']" <<<"$out")"
    if "$py" -c "import sys; sys.exit(0 if float(sys.argv[1]) > float(sys.argv[2]) else 1)" "$rate" "$best"; then
      best="$rate"; record="$out"
    fi
  done
  # Preprocessing alone on one core: decode + resample + normalise of the 100 images, no inference beside it.
  one_core=0
  for _ in 1 2 3; do
    start=$(date +%s.%N)
    RAYON_NUM_THREADS=1 "$bin" preprocess --model "$model" "${images[@]}" --out "$scratch/tensors.npy" 2>/dev/null
    rate="$("$py" -c "import sys; print(${#images[@]} / (float(sys.argv[2]) - float(sys.argv[1])))" "$start" "$(date +%s.%N)")"
    one_core="$("$py" -c "import sys; print(max(float(sys.argv[1]), float(sys.argv[2])))" "$one_core" "$rate")"
  done
  # The same on one core in process: the images already in memory, nothing but decode + preprocess timed.
  in_process="$("$throughput" --rounds 5 --model "$model" "${images[@]}")"
  # Inference alone, on the same tensors, with verify's session options (2 threads, batch 32).
  inference_only="$("$inference" --model "$model" --onnx "$onnx" --threads 2 --batch 32 --rounds 3 "${images[@]}")"
  python="$("$py" "$repo/scripts/bench/bench_oracle.py" --shared "$shared" --model "$model" --val "$sample" --threads 2)"
  python_rate="$(field "['end_to_end_images_per_second']" <<<"$python")"
  printf '%s\n' "$model (100 images, 2 threads):"
  printf '  zoorepro end to end          %8.1f images/s (best of 3)\n' "$best"
  printf '  zoorepro inference only      %8.1f images/s\n' "$(field "['provenance']['throughput']['inference_images_per_second']" <<<"$record")"
  printf '  zoorepro preprocessing       %8.1f images/s (all cores, while inference runs)\n' "$(field "['provenance']['throughput']['preprocess_images_per_second']" <<<"$record")"
  printf '  zoorepro preprocessing       %8.1f images/s on one core, in process (decode %.2f ms, of the part the recipe reads %.2f ms; resample/normalise %.2f ms per image)\n' \
    "$(field "['images_per_second']" <<<"$in_process")" "$(field "['decode_ms_per_image']" <<<"$in_process")" \
    "$(field "['part_decode_ms_per_image']" <<<"$in_process")" "$(field "['resample_normalise_ms_per_image']" <<<"$in_process")"
  printf '  zoorepro preprocessing       %8.1f images/s on one core (preprocess command, best of 3)\n' "$one_core"
  printf '  Python oracle end to end     %8.1f images/s (preprocess %.1f/s one core, inference %.1f/s)\n' "$python_rate" \
    "$(field "['preprocess_images_per_second_one_core']" <<<"$python")" "$(field "['inference_images_per_second']" <<<"$python")"
  "$py" - "$best" "$(field "['inference_images_per_second']" <<<"$inference_only")" "$(field "['images_per_second']" <<<"$in_process")" <<'PY'
import sys
end_to_end, inference, preprocess_one_core = map(float, sys.argv[1:])
ceiling = 1 / (1 / inference + 1 / (2 * preprocess_one_core))
print("  ceiling 1/(1/I + 1/(2P))     %8.1f images/s (I = %.1f inference alone, P = %.1f one core): verify reaches %.0f%%"
      % (ceiling, inference, preprocess_one_core, 100 * end_to_end / ceiling))
PY
  printf '  speed-up over Python         %8.2fx\n' "$("$py" -c "import sys; print(float(sys.argv[1]) / float(sys.argv[2]))" "$best" "$python_rate")"
done

if [ "$skip_memory" -eq 0 ]; then
  big="$scratch/val-$memory_images"
  "$py" "$repo/scripts/bench/make_symlink_val.py" "$sample" "$big" "$memory_images" >/dev/null
  model=coral/mobilenet_v2_1.0_224_quant
  start=$(date +%s.%N)
  "$py" - "$bin" verify --model "$model" --onnx "$shared/models/${model/\//__}.onnx" --val "$big" --no-cache \
      --threads 2 --report-dir "$scratch/reports" --json <<'PY' > "$scratch/memory.json"
import json, resource, subprocess, sys
out = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
record = json.loads(out.stdout or b"{}")
print(json.dumps({"status": out.returncode, "peak_rss_mib": peak_kib / 1024, "images": record.get("images"),
                  "images_per_second": record.get("provenance", {}).get("images_per_second")}))
PY
  printf '%s\n' "memory: verify --no-cache over a $memory_images-entry ImageFolder of symlinks ($model):"
  printf '  peak RSS %.0f MiB, %s images at %.1f images/s\n' "$(field "['peak_rss_mib']" < "$scratch/memory.json")" \
    "$(field "['images']" < "$scratch/memory.json")" "$(field "['images_per_second']" < "$scratch/memory.json")"
fi
