#!/usr/bin/env bash
# Runs scripts/slurm/verify_array.sh on a real Slurm (slurmctld + slurmd + munged from Debian's packages,
# started here as a one-node cluster under a temporary folder) and checks what users rely on:
#   1. the array of SHARDS tasks and its dependent merge job run, and the merged run equals an unsharded
#      run of the same images image by image (the JSON Lines predictions are byte-identical);
#   2. task 1, cancelled with scancel while it writes its store, is resubmitted (ARRAY=1), resumes from its
#      store (its record reuses the rows written before the cancel), and the merge waits for it;
# then prints per-task figures (peak RSS, wall time, images/s) for sizing jobs.
#
# Usage: scripts/slurm/test_cluster.sh [--images N] [--shards N] [--keep]
#   --images N  images in the symlinked dataset (default 2000; a task must run long enough to be cancelled)
#   --shards N  array tasks (default 4)
#   --keep      keep the temporary folder (printed) instead of removing it
# Installs slurm-wlm, munge and time with apt when missing. Needs root (slurmd launches jobs as their user).
# Nothing outside the temporary folder is configured; every daemon started is stopped by pid on exit, and
# every job of this cluster is cancelled first. Exit 0: all checks passed; 1: a check failed; 2: setup failed.
set -euo pipefail
here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
images=2000; shards=4; keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --images) images="$2"; shift ;;
    --shards) shards="$2"; shift ;;
    --keep) keep=1 ;;
    *) sed -n '2,16p' "$0" >&2; exit 2 ;;
  esac
  shift
done
[ "$shards" -ge 2 ] || { echo "test_cluster.sh: --shards must be at least 2" >&2; exit 2; }
shared="${ZOOREPRO_SHARED:-$repo/../shared}"
bin="${ZOOREPRO_BIN:-${CARGO_TARGET_DIR:-$repo/target}/release/zoorepro}"
py="${ZOOREPRO_PYTHON:-$repo/.venv/bin/python}"
model="coral/mobilenet_v1_0.5_160_quant"
onnx="$shared/models/${model//\//__}.onnx"
say() { echo "test_cluster.sh: $*" >&2; }
setup_failed() { say "$*"; exit 2; }
check_failed() { say "FAILED: $*"; exit 1; }
for need in "$bin" "$py" "$onnx"; do [ -e "$need" ] || setup_failed "missing $need (cargo build --release; scripts/setup.sh; ../shared)"; done
[ "$(id -u)" = 0 ] || setup_failed "needs root: slurmd runs jobs as their user"

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null || [ ! -x /usr/bin/time ]; then
  say "installing slurm-wlm, munge and time (apt)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q slurm-wlm munge time >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null && apt-get install -y -q slurm-wlm munge time >/dev/null; } \
    || setup_failed "apt-get install slurm-wlm munge time failed"
fi

tmp="$(mktemp -d /tmp/zoorepro-slurm.XXXXXX)"
chmod 755 "$tmp"
export SLURM_CONF="$tmp/slurm.conf"
daemons=()
cleanup() {
  set +e
  if [ ${#daemons[@]} -gt 0 ]; then
    scancel --quiet --full --user="$(id -un)" 2>/dev/null
    for _ in $(seq 50); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 0.2; done
  fi
  for pid in "${daemons[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${daemons[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
  done
  if [ "$keep" = 1 ]; then say "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 2' INT TERM

# munged with its own key and socket (the system's /etc/munge is not touched).
mkdir -p "$tmp/munge" "$tmp/state" "$tmp/spool" "$tmp/log"
chmod 711 "$tmp/munge"
head -c 1024 /dev/urandom > "$tmp/munge/munge.key"
chmod 400 "$tmp/munge/munge.key"
munged -F -f --key-file="$tmp/munge/munge.key" --socket="$tmp/munge/munge.socket" \
  --pid-file="$tmp/munge/munged.pid" --log-file="$tmp/log/munged.log" --seed-file="$tmp/munge/seed" \
  >"$tmp/log/munged.out" 2>&1 &
daemons+=($!)

read -r ctld_port slurmd_port < <("$py" -c '
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])')
node="$(hostname -s)"
cat > "$SLURM_CONF" <<EOF
ClusterName=zoorepro-test
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$tmp/munge/munge.socket
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/log/slurmctld.log
SlurmdLogFile=$tmp/log/slurmd.log
PlugStackConfig=$tmp/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
MinJobAge=600
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
NodeName=$node NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=1024 State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
: > "$tmp/plugstack.conf"
for _ in $(seq 50); do [ -S "$tmp/munge/munge.socket" ] && break; sleep 0.1; done
slurmctld -D -i -f "$SLURM_CONF" >"$tmp/log/slurmctld.out" 2>&1 &
daemons+=($!)
slurmd -D -f "$SLURM_CONF" -N "$node" >"$tmp/log/slurmd.out" 2>&1 &
daemons+=($!)
for _ in $(seq 150); do [ "$(sinfo -h -o %T 2>/dev/null)" = idle ] && break; sleep 0.2; done
[ "$(sinfo -h -o %T 2>/dev/null)" = idle ] \
  || setup_failed "the node did not come up: $(tail -n 3 "$tmp"/log/slurm*.log "$tmp"/log/*.out 2>/dev/null)"
say "one-node cluster up: $(sinfo -h -o '%P %D node, %c CPUs, %T') ($(slurmctld -V))"

# The dataset, the unsharded run to compare with, and a zoorepro wrapper that records each task's peak RSS.
"$py" "$repo/scripts/bench/make_symlink_val.py" "$shared/imagenet-sample" "$tmp/val" "$images" >/dev/null
ZOOREPRO_HOME="$repo" "$bin" --cache-dir "$tmp/unsharded" verify --model "$model" --onnx "$onnx" --val "$tmp/val" \
  --no-cache --threads 1 --predictions "$tmp/unsharded.jsonl" --report-dir "$tmp/unsharded-reports" 2>/dev/null \
  || [ $? = 1 ] || check_failed "the unsharded run failed"
root="$tmp/run"
mkdir -p "$root/logs"
# Quoted for /bin/sh, as verify_array.sh quotes (bash's %q can give $'...', which sh does not read).
shq() { local quote="'" escaped="'\\''"; printf "'%s'" "${1//$quote/$escaped}"; }
cat > "$tmp/zoorepro-measured" <<EOF
#!/bin/sh
exec /usr/bin/time -a -o $(shq "$root/logs/usage.txt") -f "task=\${SLURM_ARRAY_TASK_ID:-merge} job=\$SLURM_JOB_ID peak_rss_kib=%M wall_s=%e" $(shq "$bin") "\$@"
EOF
chmod +x "$tmp/zoorepro-measured"
submit() {
  ZOOREPRO="$tmp/zoorepro-measured" ZOOREPRO_HOME="$repo" SBATCH_ARGS="--cpus-per-task=1" \
    bash "$repo/scripts/slurm/verify_array.sh" "$model" "$tmp/val" "$shards" "$root" --onnx "$onnx" --threads 1
}
stored_images() {  # rows in a shard store so far (0 before the task created it)
  "$bin" --cache-dir "$root/shard-$1" runs --json 2>/dev/null \
    | "$py" -c 'import json,sys; r=json.load(sys.stdin); print(sum(x["images"] for x in r))' 2>/dev/null || echo 0
}
job_state() { scontrol -o show job "$1" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | head -1 | cut -d= -f2; }
wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...: polls COMMAND until it succeeds
  local deadline=$((SECONDS + $1)) what="$2"; shift 2
  until "$@"; do [ $SECONDS -lt $deadline ] || check_failed "timed out waiting for $what"; sleep 0.2; done
}

# 1. Submit; cancel task 1 once it has written some rows but not all.
submitted="$(submit)"
say "$submitted"
array_job="$(cat "$root/logs/task-1.job")"; array_job="${array_job%_*}"
merge_job="$(cat "$root/logs/merge.job")"
task1_started() { [ "$(stored_images 1)" -gt 0 ]; }
wait_for 300 "task 1 to write rows" task1_started
scancel "${array_job}_1"
task1_cancelled() { [ "$(job_state "${array_job}_1")" = CANCELLED ]; }
wait_for 60 "task 1 to be cancelled (it is $(job_state "${array_job}_1"))" task1_cancelled
partial="$(stored_images 1)"
say "cancelled task ${array_job}_1 after $partial rows"

# The other tasks finish; the merge must not run without task 1.
others_done() { ! squeue -h -j "$array_job" -o %i | grep -q .; }
wait_for 600 "the other tasks" others_done
for k in $(seq 0 $((shards - 1))); do
  [ "$k" = 1 ] || [ "$(job_state "${array_job}_$k")" = COMPLETED ] || check_failed "task $k ended $(job_state "${array_job}_$k")"
done
[ "$(job_state "$merge_job")" = PENDING ] || check_failed "the merge job is $(job_state "$merge_job") without task 1"

# 2. Resubmit task 1: it resumes, and the pending merge runs after it.
resubmitted="$(ARRAY=1 submit)"
say "$resubmitted"
case "$resubmitted" in *"merge job $merge_job (pending"*) ;; *) check_failed "the pending merge job was not reused: $resubmitted" ;; esac
merge_done() { case "$(job_state "$merge_job")" in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL) true ;; *) false ;; esac; }
wait_for 600 "the merge job" merge_done
[ "$(job_state "$merge_job")" = COMPLETED ] || check_failed "merge ended $(job_state "$merge_job"): $(cat "$root/logs/merge.out")"
grep -q "merged $shards shards" "$root/logs/merge.out" || check_failed "merge log: $(cat "$root/logs/merge.out")"

# The merged run equals the unsharded run image by image.
ZOOREPRO_HOME="$repo" "$bin" --cache-dir "$root/merged" verify --model "$model" --onnx "$onnx" --val "$tmp/val" \
  --threads 1 --json --predictions "$tmp/merged.jsonl" --report-dir "$tmp/check-reports" >"$tmp/merged.json" 2>/dev/null \
  || [ $? = 1 ] || check_failed "verify over the merged store failed"
cmp -s "$tmp/merged.jsonl" "$tmp/unsharded.jsonl" || check_failed "merged predictions differ from the unsharded run's"

# Figures per task, and the resumed task's reuse, from /usr/bin/time and the shards' records.
"$py" - "$root" "$tmp/merged.json" "$partial" "$images" "$shards" <<'PY' || check_failed "figures"
import glob, json, re, sys
root, merged_json, partial, images, shards = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
merged = json.load(open(merged_json))
assert merged["provenance"]["inferred"] == 0, "verify over the merged store inferred images again"
assert merged["images"] == images, merged["images"]
usage = [dict(kv.split("=") for kv in line.split()) for line in open(root + "/logs/usage.txt") if line.startswith("task=")]
records = []
for path in glob.glob(root + "/reports/**/*.json", recursive=True):
    r = json.load(open(path))
    shard = re.search(r"--shard (\d+)/", " ".join(r["provenance"]["command_line"]) if isinstance(r["provenance"]["command_line"], list) else r["provenance"]["command_line"])
    if shard:
        records.append((int(shard.group(1)), r))
resumed = [r for k, r in records if k == 1 and r["store"] and r["store"]["reused"] > 0]
assert resumed, "task 1's second attempt reused no rows: it did not resume from its store"
assert resumed[0]["store"]["reused"] >= partial, (resumed[0]["store"]["reused"], partial)
assert resumed[0]["images"] > resumed[0]["store"]["reused"], "task 1 had finished before it was cancelled: use more --images"
tasks = [u for u in usage if u["task"] != "merge"]
rss = [int(u["peak_rss_kib"]) / 1024 for u in tasks]
rates = [r["provenance"]["throughput"]["end_to_end_images_per_second"] for k, r in records]
print("slurm: %d images, %d shards: merged run equals the unsharded run (%d predictions); task 1 cancelled after %d rows, resumed reusing %d"
      % (images, shards, merged["images"], partial, resumed[0]["store"]["reused"]))
print("per task (1 CPU, --threads 1): peak RSS %.0f-%.0f MiB, wall %.1f-%.1f s, %.0f-%.0f images/s end to end"
      % (min(rss), max(rss), min(float(u["wall_s"]) for u in tasks), max(float(u["wall_s"]) for u in tasks), min(rates), max(rates)))
m = [u for u in usage if u["task"] == "merge"]
if m:
    print("merge job: peak RSS %.0f MiB, wall %s s" % (int(m[-1]["peak_rss_kib"]) / 1024, m[-1]["wall_s"]))
PY
say "OK"
