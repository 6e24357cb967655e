#!/usr/bin/env bash
# The long run of the model-based test of the verdict rule (tests/trust/trust_model.rs, issue 34):
# random sequences of user actions against a small workspace, every record, `runs`, `table`
# and `compare` checked against an independent model of the truth after every step.
#
# Usage: scripts/model_test.sh [--cases N] [--binary-cases N] [--jobs J] [--seed S]
#   --cases N         in-process sequences in all (default 5000), split over the jobs
#   --binary-cases N  sequences through the binary, with real interrupts (default 200)
#   --jobs J          test processes at once, each with its own seed (default: 2)
#   --seed S          first seed (default: the date's seconds); job k uses S + k
#
# Prints each job's line ("model-based test (...): N sequences passed ..., 0 violations") and
# the totals. Exit status 0 only when every job found no violation. CI runs the quick form
# (300 + 24 sequences) as part of `cargo test`.
set -euo pipefail
repo="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
cd "$repo"

cases=5000 binary_cases=200 jobs=2 seed="$(date +%s)"
while [ $# -gt 0 ]; do
  case "$1" in
    --cases) cases="$2"; shift 2 ;;
    --binary-cases) binary_cases="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "model_test.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

export ZOOREPRO_PYTHON="${ZOOREPRO_PYTHON:-$repo/.venv/bin/python}"
cargo test --release --test trust --no-run >/dev/null 2>&1 || cargo test --release --test trust --no-run
logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT
pids=()
for ((k = 0; k < jobs; k++)); do
  share=$(( cases / jobs + (k < cases % jobs ? 1 : 0) ))
  binary_share=$(( binary_cases / jobs + (k < binary_cases % jobs ? 1 : 0) ))
  ZOOREPRO_MODEL_CASES="$share" ZOOREPRO_MODEL_BINARY_CASES="$binary_share" ZOOREPRO_MODEL_SEED=$((seed + k)) \
    cargo test --release --test trust trust_model:: -- --nocapture --test-threads 1 >"$logs/$k.log" 2>&1 &
  pids+=("$!")
done
status=0
for k in "${!pids[@]}"; do
  wait "${pids[$k]}" || status=1
  grep -ho "model-based test.*" "$logs/$k.log" | sed "s/^/job $k (seed $((seed + k))): /"
  if ! grep -q "test result: ok" "$logs/$k.log"; then
    grep -h -A30 "the verdict rule was broken\|panicked" "$logs/$k.log" | head -60
  fi
done
grep -ho "model-based test.*" "$logs"/*.log | awk '{
       for (i = 1; i <= NF; i++) {
         if ($(i+1) == "sequences" && $(i+2) == "passed,") seq += $i
         if ($(i+1) == "steps,") steps += $i
         if ($(i+1) == "interrupted") stopped += $i
         if ($(i+1) == "violations") bad += $i
       }
     }
     END { printf "total: %d sequences passed, %d steps, %d interrupted verifies, %d violations\n", seq, steps, stopped, bad }'
exit "$status"
