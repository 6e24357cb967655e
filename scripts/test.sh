#!/usr/bin/env bash
# The two test tiers (CONTRIBUTING.md#test-tiers).
#
#   scripts/test.sh [ARGS...]   the full run, what CI runs: setup (scripts/setup.sh), formatting,
#                               unused dependencies, links, lints, the API docs, the declared
#                               rust-version, then every test (ARGS go to `cargo test`): unit tests,
#                               integration tests driving the real binary on ../shared (real JPEGs,
#                               real ONNX models, the real ONNX Runtime), the bit-exact parity
#                               harness; the system components (Chromium, Slurm) in their own
#                               stage; the Python wheel, installed and run as a user gets it
#                               (scripts/test_wheel.sh); and the JPEG and non-JPEG corpus checks
#                               against Pillow.
#   scripts/test.sh --quick     everyday work, at most 3 minutes on 2 cores after a build:
#                               formatting, the unit tests, and a smoke pass of the real binary
#                               on the bundled demo (needs no ../shared). Assumes setup was run.
#
# A test that cannot run here (no ../shared, no Python, no Chromium, ...) skips through one helper
# (src/testing.rs), which appends a line to target/skipped-tests.txt; both tiers end by printing
# how many tests skipped and which. Under CI=true such a skip fails the test instead.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
target="${CARGO_TARGET_DIR:-$repo/target}"

quick=false
if [ "${1:-}" = "--quick" ]; then
    quick=true
    shift
fi

mkdir -p "$target"
export ZOOREPRO_SKIP_LOG="$target/skipped-tests.txt"
rm -f "$ZOOREPRO_SKIP_LOG"
report_skips() {
    if [ -s "$ZOOREPRO_SKIP_LOG" ]; then
        echo "$(wc -l <"$ZOOREPRO_SKIP_LOG") tests skipped ($ZOOREPRO_SKIP_LOG):"
        sort "$ZOOREPRO_SKIP_LOG" | sed 's/^/  /'
    else
        echo "0 tests skipped"
    fi
}
# Each stage of the full run prints its wall time, and the run ends with the table
# CONTRIBUTING.md's per-stage budget is checked against.
stage_times=()
stage() {
    local name="$1" start=$SECONDS
    shift
    echo "== stage: $name" >&2
    "$@"
    stage_times+=("$(printf '%5d s  %s' $((SECONDS - start)) "$name")")
}
report_stages() {
    [ ${#stage_times[@]} -gt 0 ] || return 0
    echo "stage times (wall, $(nproc) cores):"
    printf '  %s\n' "${stage_times[@]}"
    echo "  total: $SECONDS s"
}
finish() {
    report_stages
    report_skips
}
trap finish EXIT

# The bundled demo through the real binary: 30 JPEGs, the bundled model, the reference its
# manifest carries. Checks the verdict and the exit status, the store (a second run infers
# nothing), and bad input (exit 2, one error line naming the folder).
smoke() {
    local bin="$target/release/zoorepro" scratch
    scratch="$(mktemp -d)"
    # shellcheck disable=SC2064 # expand now: $scratch is local
    trap "rm -rf '$scratch'; finish" EXIT
    local verify=("$bin" --cache-dir "$scratch/cache" verify --model coral/mobilenet_v2_1.0_224_quant
        --val demo --report-dir "$scratch/reports" --json)
    ZOOREPRO_HOME="$repo" "${verify[@]}" >"$scratch/first.json" 2>"$scratch/first.log" ||
        { cat "$scratch/first.log"; echo "smoke: verify of the demo failed" >&2; return 1; }
    ZOOREPRO_HOME="$repo" "${verify[@]}" >"$scratch/again.json" 2>"$scratch/again.log" ||
        { cat "$scratch/again.log"; echo "smoke: the second verify of the demo failed" >&2; return 1; }
    python3 - "$scratch/first.json" "$scratch/again.json" <<'EOF'
import json, sys
first, again = (json.load(open(path)) for path in sys.argv[1:])
got = (first["verdict"]["status"], first["top1_correct"], first["top5_correct"], first["images"])
assert got == ("reproduced", 18, 27, 30), f"smoke: the demo gave {got}, not reproduced 18/27 of 30"
assert again["store"]["reused"] == 30, f"smoke: the second run reused {again['store']['reused']} of 30"
assert again["verdict"]["status"] == "reproduced", again["verdict"]
EOF
    local status=0
    ZOOREPRO_HOME="$repo" "$bin" --cache-dir "$scratch/cache" verify \
        --model coral/mobilenet_v2_1.0_224_quant --val "$scratch/absent" --report-dir "$scratch/reports" \
        >/dev/null 2>"$scratch/bad.log" ||
        status=$?
    if [ "$status" != 2 ] || [ "$(grep -c '^zoorepro: error: .*absent' "$scratch/bad.log")" != 1 ]; then
        cat "$scratch/bad.log"
        echo "smoke: a missing folder gave exit $status, not 2 with one error naming it" >&2
        return 1
    fi
    echo "smoke: demo reproduced (18/30 top-1, 27/30 top-5), resumed from the store, bad input exit 2"
}

if $quick; then
    export ZOOREPRO_PYTHON="${ZOOREPRO_PYTHON:-$repo/.venv/bin/python}"
    cargo fmt --check
    cargo build --release --locked
    cargo test --release --locked --lib "$@"
    smoke
    exit 0
fi

stage setup bash scripts/setup.sh
export ZOOREPRO_PYTHON="$repo/.venv/bin/python"

# Style and lints first: a red one fails in seconds, before the long build.
stage fmt cargo fmt --check
# No dependency Cargo.toml declares goes unused: cargo-machete's check, by a stdlib script (0.1 s;
# installing cargo-machete on a clean machine built 67 crates, about 3 CPU-minutes), checked on a
# made-up crate first.
deps() {
    python3 scripts/check_deps.py --self-test
    python3 scripts/check_deps.py
}
stage deps deps
# Every relative link and #anchor of the Markdown docs resolves (stdlib Python, a second).
stage links python3 scripts/check_links.py
# Files at most 700 lines outside #[cfg(test)], functions at most 80 (CONTRIBUTING.md#standards).
stage size python3 scripts/check_size.py
# The system test binary has test = false in Cargo.toml (a plain `cargo test` leaves it out), so
# --all-targets leaves it out too (even beside --test system): it is linted on its own.
clippy() {
    cargo clippy --release --locked --all-targets -- -D warnings
    cargo clippy --release --locked --test system -- -D warnings
}
stage clippy clippy
# The API docs build without a warning (broken intra-doc links, bad HTML, ...). In the release
# profile, so that the dependencies' metadata and build scripts (libjpeg-turbo's CMake build among
# them) are clippy's, not built again for the dev profile.
stage doc env RUSTDOCFLAGS="-D warnings" cargo doc --release --locked --no-deps
# The declared rust-version must really build. It promises what a user builds (`cargo install`:
# the library and the binaries); tests, examples and benches are built with the current stable
# toolchain above and below, so checking them with the old one too would double the time for
# no promise (rustup fetches that toolchain once).
msrv="$(sed -n 's/^rust-version = "\(.*\)"$/\1/p' Cargo.toml)"
msrv_check() {
    rustup toolchain install "$msrv" --profile minimal --no-self-update >/dev/null
    CARGO_TARGET_DIR="$target/msrv" cargo "+$msrv" check --locked --lib --bins
}
stage "msrv $msrv" msrv_check

# Release profile: the integration tests push hundreds of real images through the binary.
# Every test binary but `system` (test = false in Cargo.toml), which runs in a stage of its own below.
stage "test build" cargo test --release --locked --no-run "$@"
stage "test run" cargo test --release --locked "$@"
# Tests that start system components: the reports in headless Chromium (installed from Debian's
# packages where missing), the Slurm recipe on a real one-node Slurm (as root).
stage "system components" cargo test --release --locked --test system
stage smoke smoke
# Issue 39: the wheel as a Python user gets it (scripts/test_wheel.sh): built by maturin into this
# target folder with the release profile, so it reuses the test build's dependencies; installed
# into a fresh venv with only its PyPI dependencies; run with cargo and rustc off PATH.
stage wheel bash scripts/test_wheel.sh
# Issue 18's yardstick: every JPEG of tests/jpeg-corpus accepted, refused and decoded as Pillow 13 does.
stage "jpeg corpus" bash scripts/parity/parity_corpus.sh --jobs 2
# Issue 35 item 11: PNG, TIFF, GIF, BMP and WebP of tests/nonjpeg-corpus accepted, refused and
# decoded as Pillow 13 does (known-unsupported.tsv lists the clean refusals); about 25 s.
stage "non-jpeg corpus" bash scripts/parity/parity_nonjpeg.sh --jobs 2
