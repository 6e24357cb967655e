#!/usr/bin/env python3
"""Checks that every dependency Cargo.toml declares is used (CONTRIBUTING.md#standards).

    scripts/check_deps.py [--manifest Cargo.toml] [--self-test]

The check cargo-machete makes, in the places each kind of dependency may be used: a crate of
[dependencies] must be named in src/ (the library, the binaries, the wheel's module), one of
[dev-dependencies] in tests/, examples/, benches/ or src/, one of [build-dependencies] in
build.rs. "Named" means `use NAME`, `NAME::`, `extern crate NAME` or `NAME!` in a .rs file
outside comments, NAME being the key with `-` turned into `_`. A dependency listed under
[package.metadata.cargo-machete] `ignored` (with the reason beside it) is not checked, so the
same list serves cargo-machete where a developer has it.

Why a script: cargo-machete's install builds 67 crates, about 3 minutes of CPU that every clean
CI run paid for a check that takes this script 0.1 s (standard library only). Exits 1 naming each
unused dependency, and the file to edit. --self-test checks the check on a made-up crate with a
used and an unused dependency of each kind (scripts/test.sh runs both).
"""

import argparse
import re
import sys
import tempfile
import tomllib
from pathlib import Path

# Where a crate of each table may be used, relative to the package root.
PLACES = {
    "dependencies": ["src"],
    "dev-dependencies": ["src", "tests", "examples", "benches"],
    "build-dependencies": ["build.rs"],
}
LINE_COMMENT = re.compile(r"//.*$", re.MULTILINE)
BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)


def rust_sources(root, places):
    for place in places:
        path = root / place
        if path.is_file():
            yield path
        elif path.is_dir():
            yield from sorted(path.rglob("*.rs"))


def code_of(path):
    text = path.read_text(encoding="utf-8", errors="replace")
    return LINE_COMMENT.sub("", BLOCK_COMMENT.sub("", text))


def is_named(name, code):
    ident = re.escape(name.replace("-", "_"))
    return re.search(r"(\buse\s+|\bextern\s+crate\s+|(?<![\w:.])){}\s*(::|;|!|\s+as\b)"
                     .format(ident), code) is not None


def unused(manifest):
    """[(table, dependency)] that no source of its places names."""
    root = manifest.parent
    cargo = tomllib.loads(manifest.read_text(encoding="utf-8"))
    meta = cargo.get("package", {}).get("metadata", {}).get("cargo-machete", {})
    ignored = set(meta.get("ignored", []))
    found = []
    for table, places in PLACES.items():
        deps = [d for d in cargo.get(table, {}) if d not in ignored]
        if not deps:
            continue
        codes = [code_of(p) for p in rust_sources(root, places)]
        found += [(table, d) for d in deps if not any(is_named(d, c) for c in codes)]
    return found


def self_test():
    """The check on a made-up crate: each kind's unused crate named, each used one not."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "src").mkdir()
        (root / "tests").mkdir()
        (root / "Cargo.toml").write_text(
            '[package]\nname = "x"\n[dependencies]\nserde-json = "1"\nanyhow = "1"\n'
            'thiserror = "2"\nmaud = "0.27"\nsha2 = "0.10"\n'
            '[dev-dependencies]\nproptest = "1"\ntempfile = "3"\n'
            '[build-dependencies]\ncc = "1"\nprost-build = "0.14"\nsyn = "2"\n'
            '[package.metadata.cargo-machete]\nignored = ["syn"]\n')
        (root / "src" / "lib.rs").write_text(
            "//! uses sha2:: only in this comment\nuse serde_json::Value;\n"
            "fn f() -> anyhow::Result<()> { maud::html! {}; Ok(()) }\n"
            "/* thiserror::Error */\n")
        (root / "tests" / "t.rs").write_text("use proptest::prelude::*;\n")
        (root / "build.rs").write_text("fn main() { cc::Build::new(); }\n")
        got = unused(root / "Cargo.toml")
        want = [("dependencies", "thiserror"), ("dependencies", "sha2"),
                ("dev-dependencies", "tempfile"), ("build-dependencies", "prost-build")]
        if sorted(got) != sorted(want):
            sys.exit("check_deps.py --self-test: found %s, expected %s" % (got, want))
    print("check_deps.py --self-test: the made-up crate's 4 unused dependencies found, no other")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--manifest", type=Path,
                    default=Path(__file__).resolve().parent.parent / "Cargo.toml")
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args()
    if args.self_test:
        self_test()
        return
    found = unused(args.manifest)
    for table, dep in found:
        print("%s: [%s] %s is not used in %s: remove it, or list it under "
              "[package.metadata.cargo-machete] ignored with the reason"
              % (args.manifest, table, dep, " or ".join(PLACES[table])))
    if found:
        sys.exit(1)
    print("check_deps.py: every dependency of %s is used" % args.manifest)


if __name__ == "__main__":
    main()
