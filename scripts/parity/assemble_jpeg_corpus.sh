#!/usr/bin/env bash
# Re-creates tests/jpeg-corpus/files from local copies of the decoder projects' repositories
# listed in tests/jpeg-corpus/SOURCES.tsv, at the commits recorded there, and checks every
# sha256. Or, with --check, only checks the committed folder against the manifest (no
# repositories needed: what CI runs, as CI cannot reach GitHub).
#
# Usage:
#   scripts/parity/assemble_jpeg_corpus.sh --check
#   scripts/parity/assemble_jpeg_corpus.sh --mirrors DIR [--out DIR] [--include-large]
#
# --mirrors DIR   where the repositories are: for owner/name any of DIR/owner+name/repo,
#                 DIR/owner+name, DIR/owner/name, DIR/name, DIR/name.git (bare or not; e.g.
#                 `git clone --bare https://github.com/owner/name DIR/owner+name`). The commit
#                 of the manifest must be present in it (git fetch origin COMMIT if not).
# --out DIR       write the files here [default: tests/jpeg-corpus/files]
# --include-large also write the files the manifest lists as not committed (over 1000000 bytes)
set -euo pipefail
# readlink -f: also right when run through the symlink at the old path (scripts/<name>.sh).
repo="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)"
corpus="$repo/tests/jpeg-corpus"
manifest="$corpus/SOURCES.tsv"

mode=""
mirrors=""
out="$corpus/files"
include_large=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --check) mode=check; shift ;;
        --mirrors) mode=assemble; mirrors="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        --include-large) include_large=1; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "assemble_jpeg_corpus.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
if [[ -z "$mode" ]]; then
    echo "assemble_jpeg_corpus.sh: give --check or --mirrors DIR (see --help)" >&2
    exit 2
fi

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

if [[ "$mode" == check ]]; then
    bad=0
    declare -A listed=()
    while IFS=$'\t' read -r file _ _ _ sha _ _ committed; do
        [[ "$committed" == yes ]] || continue
        [[ -n "${listed[$file]:-}" ]] && continue
        listed[$file]=1
        if [[ ! -f "$out/$file" ]]; then
            echo "missing: $file"; bad=$((bad + 1))
        elif [[ "$(sha_of "$out/$file")" != "$sha" ]]; then
            echo "sha256 differs: $file"; bad=$((bad + 1))
        fi
    done < <(tail -n +2 "$manifest")
    for f in "$out"/*; do
        [[ -e "$f" ]] || continue
        name="$(basename "$f")"
        if [[ -z "${listed[$name]:-}" ]]; then
            echo "not in the manifest: $name"; bad=$((bad + 1))
        fi
    done
    echo "${#listed[@]} files listed as committed, $bad problems"
    [[ $bad -eq 0 ]]
    exit
fi

find_repo() {  # owner/name -> a directory git can read it from
    local owner="${1%%/*}" name="${1#*/}" d
    for d in "$mirrors/$owner+$name/repo" "$mirrors/$owner+$name" "$mirrors/$owner/$name" \
             "$mirrors/$name" "$mirrors/$name.git"; do
        if [[ -d "$d" ]] && git -C "$d" rev-parse --git-dir >/dev/null 2>&1; then
            echo "$d"
            return 0
        fi
    done
    return 1
}

mkdir -p "$out"
tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT
written=0 present=0 skipped=0 bad=0
while IFS=$'\t' read -r file repository commit path sha _ _ committed; do
    if [[ "$committed" != yes && $include_large -eq 0 ]]; then
        skipped=$((skipped + 1)); continue
    fi
    if [[ -f "$out/$file" && "$(sha_of "$out/$file")" == "$sha" ]]; then
        present=$((present + 1)); continue
    fi
    if ! dir="$(find_repo "$repository")"; then
        echo "no local copy of $repository under $mirrors"; bad=$((bad + 1)); continue
    fi
    if ! git -C "$dir" cat-file blob "$commit:$path" > "$tmp" 2>/dev/null; then
        echo "$repository: no $path at $commit"; bad=$((bad + 1)); continue
    fi
    if [[ "$(sha_of "$tmp")" != "$sha" ]]; then
        echo "$repository $commit:$path: sha256 differs from the manifest"; bad=$((bad + 1))
        continue
    fi
    cp "$tmp" "$out/$file"
    written=$((written + 1))
done < <(tail -n +2 "$manifest")
echo "written $written, already present $present, not committed (skipped) $skipped, problems $bad"
[[ $bad -eq 0 ]]
