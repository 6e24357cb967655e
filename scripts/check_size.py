#!/usr/bin/env python3
"""Checks the size rules of CONTRIBUTING.md#standards on every Rust file under src/.

    scripts/check_size.py [--max-file-lines 700] [--max-fn-lines 80] [--top N]

A file counts its lines outside `#[cfg(test)]` modules; a function counts from its `fn` line to
its closing brace. rustfmt puts a closing brace at the indentation of the line that opened it,
which is what this relies on: run it on formatted code (scripts/test.sh runs `cargo fmt --check`
first). Prints the largest files and functions (--top) and each breach; exits 1 on a breach.
Standard library only, well under a second.
"""

import argparse
import re
import sys
from pathlib import Path

FN = re.compile(r'^(\s*)(pub(\([^)]*\))?\s+)?((const|async|unsafe|extern\s+"C")\s+)*fn\s+(\w+)')
TEST_MOD = re.compile(r"^(\s*)(pub(\([^)]*\))?\s+)?mod\s+\w+\s*\{\s*$")


def block_end(lines, start, indent):
    """The index of the line closing the block opened at `start` (same indentation, `}`)."""
    for i in range(start + 1, len(lines)):
        line = lines[i]
        if line.startswith(indent + "}") and not line.startswith(indent + " "):
            return i
    return len(lines) - 1


def measure(path):
    lines = path.read_text(encoding="utf-8").splitlines()
    counted = 0
    functions = []
    i = 0
    while i < len(lines):
        line = lines[i]
        test_mod = TEST_MOD.match(lines[i + 1]) if i + 1 < len(lines) else None
        if line.strip() == "#[cfg(test)]" and test_mod:
            i = block_end(lines, i + 1, test_mod.group(1)) + 1
            continue
        counted += 1
        match = FN.match(line)
        if match and not line.rstrip().endswith(";"):
            # A signature may span lines; the body opens on the first line ending with `{` (a line
            # ending with `;` first means a declaration without a body).
            open_line = i
            while open_line < len(lines) and not lines[open_line].rstrip().endswith(("{", ";")):
                open_line += 1
            if open_line < len(lines) and lines[open_line].rstrip().endswith("{"):
                end = block_end(lines, open_line, match.group(1))
                functions.append((end - i + 1, f"{path}:{i + 1}", match.group(6)))
        i += 1
    return counted, functions


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-file-lines", type=int, default=700)
    parser.add_argument("--max-fn-lines", type=int, default=80)
    parser.add_argument("--top", type=int, default=3)
    parser.add_argument("root", nargs="?", default="src")
    args = parser.parse_args()

    files, functions = [], []
    for path in sorted(Path(args.root).rglob("*.rs")):
        counted, fns = measure(path)
        files.append((counted, str(path)))
        functions.extend(fns)
    files.sort(reverse=True)
    functions.sort(reverse=True)

    breaches = [f"file {name}: {n} lines (at most {args.max_file_lines})"
                for n, name in files if n > args.max_file_lines]
    breaches += [f"fn {name} at {where}: {n} lines (at most {args.max_fn_lines})"
                 for n, where, name in functions if n > args.max_fn_lines]
    print(f"check_size: {len(files)} files, {len(functions)} functions under {args.root}/; largest:")
    for n, name in files[: args.top]:
        print(f"  {n:5d} lines  {name}")
    for n, where, name in functions[: args.top]:
        print(f"  {n:5d} lines  fn {name} ({where})")
    for breach in breaches:
        print(f"check_size: {breach}", file=sys.stderr)
    return 1 if breaches else 0


if __name__ == "__main__":
    sys.exit(main())
