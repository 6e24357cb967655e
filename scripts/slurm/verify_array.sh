#!/usr/bin/env bash
# Verify one model over a Slurm cluster with a shared filesystem: one array task per shard
# (`--array=0-(N-1)`, SLURM_ARRAY_TASK_ID -> `verify --shard K/N`), each with its own store under ROOT
# (SQLite must not be shared over NFS), then a merge job that runs once every task has succeeded.
#
#   scripts/slurm/verify_array.sh MODEL VAL SHARDS ROOT [verify flags...]
#   e.g. scripts/slurm/verify_array.sh pytorch/resnet50 /shared/imagenet/val 16 /shared/runs/resnet50 \
#          --onnx /shared/models/resnet50.onnx --provider cuda --batch 256
#
# Environment: ZOOREPRO (the binary, default `zoorepro` on PATH), SBATCH_ARGS (extra sbatch flags, e.g.
# "--partition=gpu --gres=gpu:1 --time=00:30:00"), SBATCH (the sbatch command; tests point it at a local stand-in).
# Results: ROOT/shard-K/ (shard stores), ROOT/merged/ (the merged run), ROOT/reports/, ROOT/logs/.
set -euo pipefail
if [ $# -lt 4 ]; then
  sed -n '2,14p' "$0" >&2
  exit 2
fi
model="$1"; val="$2"; shards="$3"; root="$4"; shift 4
case "$shards" in ''|*[!0-9]*|0) echo "SHARDS must be a positive integer, not '$shards'" >&2; exit 2 ;; esac
zoorepro="${ZOOREPRO:-zoorepro}"
sbatch="${SBATCH:-sbatch}"
mkdir -p "$root/logs" "$root/reports"
q() { printf '%q' "$1"; }
extra=""
for arg in "$@"; do extra+=" $(q "$arg")"; done
name="zoorepro-${model//\//-}"

# Single quotes keep $SLURM_ARRAY_TASK_ID for the task's shell to expand.
task="exec $(q "$zoorepro") --cache-dir $(q "$root")/shard-\$SLURM_ARRAY_TASK_ID verify --model $(q "$model") \
--val $(q "$val") --shard \$SLURM_ARRAY_TASK_ID/$shards --report-dir $(q "$root/reports")$extra"
# shellcheck disable=SC2086  # SBATCH_ARGS is a list of flags
array_job=$("$sbatch" --parsable ${SBATCH_ARGS:-} --job-name="$name" --array="0-$((shards - 1))" \
  --output="$root/logs/shard-%a.out" --wrap "$task")

# The shard stores exist only once the tasks ran: the glob is expanded by the merge job's shell.
merge="exec $(q "$zoorepro") --cache-dir $(q "$root")/merged merge $(q "$root")/shard-* --report-dir $(q "$root/reports")"
# shellcheck disable=SC2086
merge_job=$("$sbatch" --parsable ${SBATCH_ARGS:-} --job-name="$name-merge" --dependency="afterok:${array_job%%;*}" \
  --output="$root/logs/merge.out" --wrap "$merge")
echo "submitted array job $array_job ($shards tasks) and merge job $merge_job; results in $root/merged, reports in $root/reports"
