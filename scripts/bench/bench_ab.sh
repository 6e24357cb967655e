#!/usr/bin/env bash
# A/B of preprocessing speed per core between two builds of examples/preprocess_throughput (e.g.
# main before and after a change), for the presets both know. On a shared machine wall-clock
# rates swing by tens of percent between identical runs, so the figure compared is the CPU time
# (user + sys) of each run, A and B alternating, median of --pairs pairs.
#
#   scripts/bench/bench_ab.sh A_BINARY B_BINARY [--pairs 3] [--rounds 3] [PRESET ...]
#
# Builds: `cargo build --release --example preprocess_throughput`, then copy
# target/release/examples/preprocess_throughput aside before building the other side.
# Images: the shared sample (../shared/imagenet-sample, or $ZOOREPRO_SHARED).
# Prints one line per preset: A and B CPU seconds (median) and B/A.
set -euo pipefail
repo="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)"
shared="${ZOOREPRO_SHARED:-$repo/../shared}"
if [[ $# -lt 2 ]]; then
    sed -n '2,12p' "$0" >&2
    exit 2
fi
a="$1" b="$2"
shift 2
pairs=3 rounds=3 presets=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --pairs) pairs="$2"; shift 2 ;;
        --rounds) rounds="$2"; shift 2 ;;
        *) presets+=("$1"); shift ;;
    esac
done
if [[ ${#presets[@]} -eq 0 ]]; then
    presets=(torchvision timm-bicubic keras-caffe keras-tf tf-inception-299 torchvision-tensor
             mlperf-resnet50 mlperf-mobilenet)
fi
for bin in "$a" "$b"; do
    [[ -x "$bin" ]] || { echo "bench_ab.sh: $bin is not an executable" >&2; exit 2; }
done
images=()
while IFS= read -r f; do images+=("$f"); done < <(find "$shared/imagenet-sample" -name '*.JPEG' | sort)

# CPU seconds (user + sys) of one run.
times="$(mktemp)"
trap 'rm -f "$times"' EXIT
cpu_seconds() {
    /usr/bin/time -o "$times" -f '%U %S' "$@" >/dev/null 2>&1
    awk '{ printf "%.3f", $1 + $2 }' "$times"
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); ${#images[@]} images, $rounds rounds, $pairs pairs"
printf '%-22s %9s %9s %7s\n' preset "A cpu s" "B cpu s" "B/A"
for preset in "${presets[@]}"; do
    as=() bs=()
    for _ in $(seq "$pairs"); do
        as+=("$(cpu_seconds "$a" --rounds "$rounds" --recipe "$preset" "${images[@]}")")
        bs+=("$(cpu_seconds "$b" --rounds "$rounds" --recipe "$preset" "${images[@]}")")
    done
    ma="$(printf '%s\n' "${as[@]}" | median)"
    mb="$(printf '%s\n' "${bs[@]}" | median)"
    printf '%-22s %9s %9s %7s\n' "$preset" "$ma" "$mb" "$(awk -v a="$ma" -v b="$mb" 'BEGIN { printf "%.3f", b / a }')"
done
