#!/usr/bin/env bash
# Verify one model over a Slurm cluster with a shared filesystem: one array task per shard
# (`--array=0-(N-1)`, SLURM_ARRAY_TASK_ID -> `verify --shard K/N`), each with its own store under ROOT
# (SQLite must not be shared over NFS), then a merge job that runs once every task has succeeded.
#
#   scripts/slurm/verify_array.sh MODEL VAL SHARDS ROOT [verify flags...]
#   e.g. scripts/slurm/verify_array.sh pytorch/resnet50 /shared/imagenet/val 16 /shared/runs/resnet50 \
#          --onnx /shared/models/resnet50.onnx --provider cuda --batch 256
#
# Resubmitting tasks that failed or were cancelled: run the same command again with ARRAY set to their ids
# (e.g. ARRAY=3,7). Each resumes from its shard store, and the pending merge job is made to wait for the new
# tasks (or a new merge job is submitted when the old one is gone).
#
# Environment: ZOOREPRO (the binary, default `zoorepro` on PATH), SBATCH_ARGS (extra sbatch flags, e.g.
# "--partition=gpu --gres=gpu:1 --time=00:30:00"), ARRAY (task ids to submit, default all), SBATCH (the
# sbatch command). Results: ROOT/shard-K/ (shard stores), ROOT/merged/ (the merged run), ROOT/reports/,
# ROOT/logs/ (task and merge logs; task-K.job and merge.job hold the Slurm ids of the latest submission).
set -euo pipefail
if [ $# -lt 4 ]; then
  sed -n '2,18p' "$0" >&2
  exit 2
fi
model="$1"; val="$2"; shards="$3"; root="$4"; shift 4
case "$shards" in ''|*[!0-9]*|0) echo "SHARDS must be a positive integer, not '$shards'" >&2; exit 2 ;; esac
zoorepro="${ZOOREPRO:-zoorepro}"
sbatch="${SBATCH:-sbatch}"
array="${ARRAY:-0-$((shards - 1))}"
if [ -n "${ARRAY:-}" ]; then
  IFS=, read -r -a tasks <<<"$ARRAY"
  for k in "${tasks[@]}"; do
    case "$k" in ''|*[!0-9]*) echo "ARRAY must list task ids like 3,7, not '$ARRAY'" >&2; exit 2 ;; esac
    if [ "$k" -ge "$shards" ]; then echo "task $k is not below SHARDS ($shards)" >&2; exit 2; fi
  done
else
  tasks=($(seq 0 $((shards - 1))))
fi
mkdir -p "$root/logs" "$root/reports"
# Quoting for the task's /bin/sh (dash on Debian, not bash): single quotes, a ' inside as '\''.
# Bash's printf %q gives $'...' for a tab, a newline or (in a C locale) any non-ASCII byte, which
# POSIX sh reads as a literal $ followed by the quoted text.
q() { local quote="'" escaped="'\\''"; printf "'%s'" "${1//$quote/$escaped}"; }
extra=""
for arg in "$@"; do extra+=" $(q "$arg")"; done
name="zoorepro-${model//\//-}"

# Single quotes keep $SLURM_ARRAY_TASK_ID for the task's shell to expand. --requeue: a task lost to a node
# failure or preemption runs again by itself and resumes from its store.
task="exec $(q "$zoorepro") --cache-dir $(q "$root")/shard-\$SLURM_ARRAY_TASK_ID verify --model $(q "$model") \
--val $(q "$val") --shard \$SLURM_ARRAY_TASK_ID/$shards --report-dir $(q "$root/reports")$extra"
# shellcheck disable=SC2086  # SBATCH_ARGS is a list of flags
array_job=$("$sbatch" --parsable --requeue ${SBATCH_ARGS:-} --job-name="$name" --array="$array" \
  --output="$root/logs/shard-%a.out" --open-mode=append --wrap "$task")
array_job="${array_job%%;*}"
for k in "${tasks[@]}"; do echo "${array_job}_$k" > "$root/logs/task-$k.job"; done

# The merge waits for the latest submission of every task.
if [ -n "${ARRAY:-}" ]; then
  dependency="afterok"
  for k in $(seq 0 $((shards - 1))); do
    [ -f "$root/logs/task-$k.job" ] || { echo "no submission of task $k recorded in $root/logs: submit all tasks first" >&2; exit 2; }
    dependency+=":$(cat "$root/logs/task-$k.job")"
  done
else
  dependency="afterok:$array_job"
fi
old_merge="$(cat "$root/logs/merge.job" 2>/dev/null || true)"
if [ -n "${ARRAY:-}" ] && [ -n "$old_merge" ] && [ -n "$(squeue -h -t PENDING -j "$old_merge" -o %i 2>/dev/null)" ]; then
  scontrol update JobId="$old_merge" Dependency="$dependency"
  merge_job="$old_merge (pending, now waiting for the resubmitted tasks)"
else
  # The shard stores exist only once the tasks ran: the glob is expanded by the merge job's shell.
  merge="exec $(q "$zoorepro") --cache-dir $(q "$root")/merged merge $(q "$root")/shard-* --report-dir $(q "$root/reports")"
  # shellcheck disable=SC2086
  merge_job=$("$sbatch" --parsable ${SBATCH_ARGS:-} --job-name="$name-merge" --dependency="$dependency" \
    --output="$root/logs/merge.out" --open-mode=append --wrap "$merge")
  merge_job="${merge_job%%;*}"
  echo "$merge_job" > "$root/logs/merge.job"
fi
echo "submitted array job $array_job (${#tasks[@]} tasks) and merge job $merge_job; results in $root/merged, reports in $root/reports"
