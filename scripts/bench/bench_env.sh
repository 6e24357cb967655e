# Sourced by the bench_*.sh scripts: sets up (scripts/setup.sh), builds the release binary, and defines
#   repo, shared (../shared or $ZOOREPRO_SHARED), bin (the zoorepro binary), py (the venv's Python),
#   scratch (a temporary folder removed on exit).
# readlink -f: also right when run through the symlink at the old path (scripts/<name>.sh).
repo="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)"
shared="${ZOOREPRO_SHARED:-$repo/../shared}"
cd "$repo"
bash scripts/setup.sh
cargo build --release --locked -q
bin="${CARGO_TARGET_DIR:-$repo/target}/release/zoorepro"
py="$repo/.venv/bin/python"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
machine_line() {
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem/ {print $2}') GiB"
}
