#!/usr/bin/env python3
"""Assemble or check tests/nonjpeg-corpus/files: PNG, TIFF, GIF, BMP and WebP test files that
other projects wrote, taken unmodified from two source distributions on PyPI.

  pillow 13.0.0 sdist   Tests/images (Pillow's own test files, the bmpsuite under bmp/, libtiff
                        and PngSuite-derived files): every PNG/TIFF/GIF/BMP/WebP by magic bytes,
                        without the drawing and font-rendering references (imagedraw*, fonts,
                        text) and the folders of other formats' references (avif, blp, eps, tga).
  pypng 0.20220715.0    code/pngsuite.py: 28 PngSuite images (Willem van Schaik's suite) kept as
                        hex strings; each is written out as the PNG it spells.

Files over COMMIT_LIMIT bytes are listed in SOURCES.tsv but not committed (the parity check does
not use them); --include-large writes them too.

Usage:
  assemble_nonjpeg_corpus.py --check                 committed files vs SOURCES.tsv (no network)
  assemble_nonjpeg_corpus.py [--sdists DIR] [--out DIR] [--include-large]
                                                     fetch both sdists with pip (or take them
                                                     from DIR), check their sha256, write files
  assemble_nonjpeg_corpus.py --write-manifest [--sdists DIR]
                                                     re-derive SOURCES.tsv from the selection rule
"""
import argparse
import hashlib
import io
import os
import re
import subprocess
import sys
import tarfile
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(REPO, "tests", "nonjpeg-corpus")
MANIFEST = os.path.join(CORPUS, "SOURCES.tsv")
COMMIT_LIMIT = 100_000
COLUMNS = ["file", "source", "version", "path", "sha256", "bytes", "license", "committed"]

# (pip requirement, sdist file name, its sha256 on PyPI)
SDISTS = {
    "pillow": ("pillow==13.0.0", "pillow-13.0.0.tar.gz",
               "cdcd1ba258178f7356d74170c9a81ba4eab6a5d55748bc402a5a2a6fe6be3510"),
    "pypng": ("pypng==0.20220715.0", "pypng-0.20220715.0.tar.gz",
              "739c433ba96f078315de54c0db975aee537cbc3e1d0ae4ed9aab0ca1e427e2c1"),
}
PILLOW_LICENSE = "MIT-CMU"
BMPSUITE_LICENSE = "public domain (bmpsuite, Tests/images/bmp/README.txt)"
PNGSUITE_LICENSE = "PngSuite: free for any purpose (W. van Schaik); pypng MIT"
SKIP_NAMES = re.compile(r"(imagedraw|bitmap_font|test_|font_|text_|multiline|rectangle|ellipse"
                        r"|line_|polygon|arc)")
SKIP_DIRS = ("imagedraw/", "avif/", "eps/", "blp/", "tga/")


def kind_of(head):
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] in (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+"):
        return "tiff"
    if head.startswith(b"GIF8"):
        return "gif"
    if head.startswith(b"BM"):
        return "bmp"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


def safe_name(prefix, path):
    return prefix + "__" + re.sub(r"[^A-Za-z0-9._-]", "_", path.replace("/", "__"))


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def fetch_sdists(where):
    paths = {}
    for key, (req, name, pinned) in SDISTS.items():
        path = os.path.join(where, name)
        if not os.path.exists(path):
            subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                            "--no-binary", ":all:", "-d", where, req], check=True)
        data = open(path, "rb").read()
        if pinned and sha256(data) != pinned:
            sys.exit("%s: sha256 %s, expected %s" % (name, sha256(data), pinned))
        paths[key] = path
    return paths


def pillow_members(path):
    """(path in Tests/images, bytes) of every selected file of the Pillow sdist."""
    with tarfile.open(path) as tar:
        for m in sorted(tar.getmembers(), key=lambda m: m.name):
            parts = m.name.split("/", 1)
            if not m.isfile() or len(parts) < 2 or not parts[1].startswith("Tests/images/"):
                continue
            rel = parts[1][len("Tests/images/"):]
            if rel.startswith(SKIP_DIRS) or SKIP_NAMES.match(os.path.basename(rel)):
                continue
            data = tar.extractfile(m).read()
            if kind_of(data[:16]):
                yield "Tests/images/" + rel, data


def pypng_members(path):
    """(code/pngsuite.py#NAME, bytes) of each PngSuite image pypng keeps as hex text."""
    with tarfile.open(path) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("/code/pngsuite.py"))
        text = tar.extractfile(member).read().decode()
    for name, hexdata in re.findall(r"'(\w+)': _dehex\(b\"\"\"([0-9a-f\s]+)\"\"\"\)", text):
        yield "code/pngsuite.py#" + name, bytes.fromhex("".join(hexdata.split()))


def all_members(sdists):
    for path, data in pillow_members(sdists["pillow"]):
        lic = BMPSUITE_LICENSE if path.startswith("Tests/images/bmp/") else PILLOW_LICENSE
        yield ("pillow", "13.0.0", path, data, lic,
               safe_name("pillow", path[len("Tests/images/"):]))
    for path, data in pypng_members(sdists["pypng"]):
        yield ("pypng", "0.20220715.0", path, data, PNGSUITE_LICENSE,
               "pngsuite__%s.png" % path.split("#")[1])


def read_manifest():
    with open(MANIFEST) as f:
        rows = [line.rstrip("\n").split("\t") for line in f]
    assert rows[0] == COLUMNS, rows[0]
    return [dict(zip(COLUMNS, r)) for r in rows[1:]]


def write_manifest(sdists):
    rows, seen = [], {}
    for source, version, path, data, lic, name in all_members(sdists):
        digest = sha256(data)
        # A file found twice is committed once, under its first name.
        name = seen.setdefault(digest, name)
        committed = "yes" if len(data) <= COMMIT_LIMIT else "no (over %d bytes)" % COMMIT_LIMIT
        rows.append([name, source, version, path, digest, str(len(data)), lic, committed])
    with open(MANIFEST, "w") as f:
        for r in [COLUMNS] + rows:
            f.write("\t".join(r) + "\n")
    print("%d rows, %d distinct files" % (len(rows), len(seen)))


def assemble(sdists, out, include_large):
    wanted = {}
    for r in read_manifest():
        if r["committed"] == "yes" or include_large:
            wanted[(r["source"], r["path"])] = r
    os.makedirs(out, exist_ok=True)
    written = 0
    for source, _, path, data, _, _ in all_members(sdists):
        r = wanted.pop((source, path), None)
        if r is None:
            continue
        if sha256(data) != r["sha256"]:
            sys.exit("%s %s: sha256 %s, manifest %s" % (source, path, sha256(data), r["sha256"]))
        with open(os.path.join(out, r["file"]), "wb") as f:
            f.write(data)
        written += 1
    if wanted:
        sys.exit("not found in the sdists: %s" % sorted(wanted))
    print("%d files written to %s, every sha256 as listed" % (written, out))


def check():
    files_dir = os.path.join(CORPUS, "files")
    listed, bad = {}, 0
    for r in read_manifest():
        if r["committed"] == "yes":
            listed[r["file"]] = r["sha256"]
    for name, digest in sorted(listed.items()):
        path = os.path.join(files_dir, name)
        if not os.path.exists(path):
            print("missing: %s" % name)
            bad += 1
        elif sha256(open(path, "rb").read()) != digest:
            print("sha256 differs: %s" % name)
            bad += 1
    extra = sorted(set(os.listdir(files_dir)) - set(listed))
    for name in extra:
        print("not in SOURCES.tsv: %s" % name)
    bad += len(extra)
    print("%d committed files checked: %s" % (len(listed), "ok" if not bad else "%d bad" % bad))
    return bad == 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--write-manifest", action="store_true")
    ap.add_argument("--sdists", metavar="DIR", help="where the sdists are (or go)")
    ap.add_argument("--out", default=os.path.join(CORPUS, "files"))
    ap.add_argument("--include-large", action="store_true")
    args = ap.parse_args()
    if args.check:
        sys.exit(0 if check() else 1)
    with tempfile.TemporaryDirectory() as tmp:
        sdists = fetch_sdists(args.sdists or tmp)
        if args.write_manifest:
            write_manifest(sdists)
        else:
            assemble(sdists, args.out, args.include_large)


if __name__ == "__main__":
    main()
