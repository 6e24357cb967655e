#!/usr/bin/env bash
# Benchmarks `zoorepro verify` (issues: verify, zoo) and prints the figures; it asserts nothing.
#   1. On an ImageFolder of N symlinks to ../shared/imagenet-sample (default 500) with 2 threads, for
#      each shared intact model (pypi/efficientnet_lite0, coral/mobilenet_v2_1.0_224_quant,
#      coral/mobilenet_v1_0.5_160_quant): end-to-end images/s of `verify --no-cache` (best of 3); the
#      pipeline's ceiling on this machine, 1 / (1/I + 1/(c*P)), with I ONNX Runtime's inference-only
#      rate on tensors in memory (same session options, examples/inference_throughput.rs), P the
#      one-core preprocessing rate (examples/preprocess_throughput.rs) and c the 2 threads, all
#      measured in this run, and verify's rate as a fraction of it; the one-core rate through the
#      `preprocess` command; and the oracle's Python pipeline doing the same work.
#   2. The three models in ONE pass (`verify --model 'a,b,c'`): its wall time against the three
#      separate runs', and its rate against the pass's ceiling 1 / (sum 1/I_k + 1/(c*P_pass)), where
#      one core preprocesses an image for the pass in (largest part-decode + each recipe's resample
#      and normalise) ms, since the pass decodes each image once.
#   3. Peak resident memory of `verify --no-cache` over a 50,000-entry ImageFolder of symlinks to the sample.
# Usage: scripts/bench/bench_verify.sh [--skip-memory | --memory-only] [--images N] [--memory-images N]
set -euo pipefail
skip_memory=0; skip_speed=0; memory_images=50000; speed_images=500
while [ $# -gt 0 ]; do
  case "$1" in
    --skip-memory) skip_memory=1 ;;
    --memory-only) skip_speed=1 ;;
    --images) speed_images="$2"; shift ;;
    --memory-images) memory_images="$2"; shift ;;
    *) echo "usage: $0 [--skip-memory | --memory-only] [--images N] [--memory-images N]" >&2; exit 2 ;;
  esac
  shift
done
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/bench_env.sh"
sample="$shared/imagenet-sample"
field() { "$py" -c "import json,sys; r=json.load(sys.stdin); print(eval('r' + sys.argv[1]))" "$1"; }
calc() { "$py" -c "import sys; print($1)" "${@:2}"; }

machine_line
cargo build --release --locked -q --example preprocess_throughput --example inference_throughput
throughput="${CARGO_TARGET_DIR:-$repo/target}/release/examples/preprocess_throughput"
inference="${CARGO_TARGET_DIR:-$repo/target}/release/examples/inference_throughput"
val="$scratch/val-$speed_images"
"$py" "$repo/scripts/bench/make_symlink_val.py" "$sample" "$val" "$speed_images" >/dev/null
images=()
while IFS= read -r f; do images+=("$f"); done < <(find "$sample" -name '*.JPEG' | sort)
models=(pypi/efficientnet_lite0 coral/mobilenet_v2_1.0_224_quant coral/mobilenet_v1_0.5_160_quant)
inverse_inference=0; pass_decode_ms=0; pass_resample_ms=0; separate_seconds=0

# Best of 3 `verify --no-cache` runs over $val: prints the best run's record.
best_verify() {
  local best_rate=0 best_record="" out rate
  "$bin" verify "$@" --val "$val" --no-cache --json --threads 2 --report-dir "$scratch/reports" >/dev/null 2>&1 || true
  for _ in 1 2 3; do
    out="$("$bin" verify "$@" --val "$val" --no-cache --json --threads 2 --report-dir "$scratch/reports" 2>/dev/null || true)"
    rate="$(field "[-1]['provenance']['images_per_second'] if isinstance(r, list) else r['provenance']['images_per_second']" <<<"$out")"
    if [ "$(calc 'int(float(sys.argv[1]) > float(sys.argv[2]))' "$rate" "$best_rate")" = 1 ]; then
      best_rate="$rate"; best_record="$out"
    fi
  done
  printf '%s' "$best_record"
}

[ "$skip_speed" -eq 1 ] || for model in "${models[@]}"; do
  onnx="$shared/models/${model/\//__}.onnx"
  record="$(best_verify --model "$model" --onnx "$onnx")"
  best="$(field "['provenance']['images_per_second']" <<<"$record")"
  separate_seconds="$(calc 'float(sys.argv[1]) + float(sys.argv[2])' "$separate_seconds" "$(field "['provenance']['seconds']" <<<"$record")")"
  # Preprocessing alone on one core through the command: adds process start and writing the .npy.
  one_core=0
  for _ in 1 2 3; do
    start=$(date +%s.%N)
    RAYON_NUM_THREADS=1 "$bin" preprocess --model "$model" "${images[@]}" --out "$scratch/tensors.npy" 2>/dev/null
    rate="$(calc "${#images[@]} / (float(sys.argv[2]) - float(sys.argv[1]))" "$start" "$(date +%s.%N)")"
    one_core="$(calc 'max(float(sys.argv[1]), float(sys.argv[2]))' "$one_core" "$rate")"
  done
  # The same on one core in process: the images already in memory, nothing but decode + preprocess timed.
  in_process="$("$throughput" --rounds 5 --model "$model" "${images[@]}")"
  # Inference alone, on the same tensors, with verify's session options (2 threads, batch 32).
  inference_only="$("$inference" --model "$model" --onnx "$onnx" --threads 2 --batch 32 --rounds 3 "${images[@]}")"
  python="$("$py" "$repo/scripts/bench/bench_oracle.py" --shared "$shared" --model "$model" --val "$sample" --threads 2)"
  python_rate="$(field "['end_to_end_images_per_second']" <<<"$python")"
  I="$(field "['inference_images_per_second']" <<<"$inference_only")"
  P="$(field "['images_per_second']" <<<"$in_process")"
  inverse_inference="$(calc 'float(sys.argv[1]) + 1 / float(sys.argv[2])' "$inverse_inference" "$I")"
  pass_decode_ms="$(calc 'max(float(sys.argv[1]), float(sys.argv[2]))' "$pass_decode_ms" "$(field "['part_decode_ms_per_image']" <<<"$in_process")")"
  pass_resample_ms="$(calc 'float(sys.argv[1]) + float(sys.argv[2])' "$pass_resample_ms" "$(field "['resample_normalise_ms_per_image']" <<<"$in_process")")"
  printf '%s\n' "$model ($speed_images images, 2 threads):"
  printf '  zoorepro end to end          %8.1f images/s (best of 3)\n' "$best"
  printf '  zoorepro inference only      %8.1f images/s (as the run record measures it, beside decoding)\n' "$(field "['provenance']['throughput']['inference_images_per_second']" <<<"$record")"
  printf '  zoorepro preprocessing       %8.1f images/s on one core, in process (decode %.2f ms, of the part the recipe reads %.2f ms; resample/normalise %.2f ms per image)\n' \
    "$P" "$(field "['decode_ms_per_image']" <<<"$in_process")" \
    "$(field "['part_decode_ms_per_image']" <<<"$in_process")" "$(field "['resample_normalise_ms_per_image']" <<<"$in_process")"
  printf '  zoorepro preprocessing       %8.1f images/s on one core (preprocess command, best of 3)\n' "$one_core"
  printf '  Python oracle end to end     %8.1f images/s on the 100-image sample (preprocess %.1f/s one core, inference %.1f/s)\n' "$python_rate" \
    "$(field "['preprocess_images_per_second_one_core']" <<<"$python")" "$(field "['inference_images_per_second']" <<<"$python")"
  printf '  ceiling 1/(1/I + 1/(2P))     %8.1f images/s (I = %.1f inference alone, P = %.1f one core): verify reaches %.0f%%\n' \
    "$(calc '1 / (1 / float(sys.argv[1]) + 1 / (2 * float(sys.argv[2])))' "$I" "$P")" "$I" "$P" \
    "$(calc '100 * float(sys.argv[3]) * (1 / float(sys.argv[1]) + 1 / (2 * float(sys.argv[2])))' "$I" "$P" "$best")"
  printf '  speed-up over Python         %8.2fx\n' "$(calc 'float(sys.argv[1]) / float(sys.argv[2])' "$best" "$python_rate")"
done

if [ "$skip_speed" -eq 0 ]; then
  list="$(IFS=,; echo "${models[*]}")"
  record="$(best_verify --model "$list" --models-dir "$shared/models")"
  seconds="$(field "[0]['provenance']['seconds']" <<<"$record")"
  rate="$(field "[0]['provenance']['images_per_second']" <<<"$record")"
  decodes="$(field "[0]['provenance']['decodes']" <<<"$record")"
  ceiling="$(calc '1 / (float(sys.argv[1]) + (float(sys.argv[2]) + float(sys.argv[3])) / 1000 / 2)' "$inverse_inference" "$pass_decode_ms" "$pass_resample_ms")"
  printf '%s\n' "three models in one pass ($list, $speed_images images, 2 threads):"
  printf '  one pass                     %8.1f s wall (%s decodes), %.1f images/s\n' "$seconds" "$decodes" "$rate"
  printf '  three separate runs          %8.1f s wall in all (best of 3 each)\n' "$separate_seconds"
  printf '  ceiling 1/(sum 1/I + 1/(2P)) %8.1f images/s (one-core pass preprocessing %.2f ms decode + %.2f ms resample): the pass reaches %.0f%%\n' \
    "$ceiling" "$pass_decode_ms" "$pass_resample_ms" "$(calc '100 * float(sys.argv[1]) / float(sys.argv[2])' "$rate" "$ceiling")"
fi

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
