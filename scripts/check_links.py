#!/usr/bin/env python3
"""Checks the relative links of the project's Markdown: every `[text](target)`, `![alt](src)` and
`[label]: target` in README.md, ARCHITECTURE.md, CONTRIBUTING.md, CHANGELOG.md and docs/**/*.md
must name a file or folder that exists, and a `#anchor` must be a heading of the target Markdown
file (GitHub's anchor rule). Links with a scheme (https:, mailto:) are not checked: CI has no
network, and a dead external page is not a broken checkout. Code spans and fenced blocks are
skipped, since commands in them are not links.

Usage: python3 scripts/check_links.py [FILE.md ...]   (default: the files above)
Prints one line per broken link (file:line: target: why) and exits 1 if there is any; stdlib only.
"""

import re
import sys
import unicodedata
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_FILES = ["README.md", "ARCHITECTURE.md", "CONTRIBUTING.md", "CHANGELOG.md"]

FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
# [text](target) or ![alt](target); the target may be <bracketed> and followed by a "title".
INLINE = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
HTML_ANCHOR = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def strip_code_spans(line):
    """The line with every `code span` blanked (same length, so columns stay meaningful)."""
    return re.sub(r"(`+)(.+?)\1", lambda m: " " * len(m.group(0)), line)


def prose_lines(text):
    """(line number, line) for every line outside fenced code blocks."""
    fenced = None
    for number, line in enumerate(text.splitlines(), 1):
        fence = FENCE.match(line)
        if fence:
            if fenced is None:
                fenced = fence.group(1)
            elif fence.group(1) == fenced:
                fenced = None
            continue
        if fenced is None:
            yield number, line


def slug(heading):
    """GitHub's anchor for a heading: the rendered text, lowercased, punctuation other than
    '-' and '_' dropped, spaces made '-'."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links render as their text
    text = text.replace("`", "")
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML tags
    text = re.sub(r"(\*\*|\*)(\S.*?)\1", r"\2", text)  # emphasis markers
    text = re.sub(r"(?<!\w)(__|_)(\S.*?)\1(?!\w)", r"\2", text)  # not inside words
    out = []
    for char in text.lower():
        if char in " -_" or unicodedata.category(char)[0] in "LN":
            out.append("-" if char == " " else char)
    return "".join(out)


_anchors = {}


def anchors(path):
    """Every anchor a Markdown file defines: its headings' slugs (duplicates numbered as GitHub
    numbers them) and explicit <a id/name> tags."""
    if path not in _anchors:
        found, seen = set(), {}
        for _, line in prose_lines(path.read_text(encoding="utf-8")):
            for name in HTML_ANCHOR.findall(line):
                found.add(name)
            heading = HEADING.match(line)
            if heading:
                base = slug(heading.group(2))
                count = seen.get(base, 0)
                seen[base] = count + 1
                found.add(base if count == 0 else f"{base}-{count}")
        _anchors[path] = found
    return _anchors[path]


def check_target(source, target):
    """Why `target`, linked from `source`, is broken, or None."""
    target = target.strip("<>")
    if SCHEME.match(target):
        return None
    path_part, _, anchor = target.partition("#")
    path_part = re.sub(r"\?.*$", "", path_part)
    dest = source if not path_part else (source.parent / path_part).resolve()
    try:
        dest.relative_to(REPO)
    except ValueError:
        return "points outside the repository"
    if not dest.exists():
        return "no such file or folder"
    if anchor:
        if dest.is_dir() or dest.suffix.lower() != ".md":
            return "an anchor into something that is not a Markdown file"
        if anchor not in anchors(dest):
            return f"no heading with anchor #{anchor} in {dest.relative_to(REPO)}"
    return None


def links(path):
    """(line number, target) of every link; link text may run over several lines, as wrapped
    prose does, so the search runs over the whole text with code blanked out."""
    lines = path.read_text(encoding="utf-8").splitlines()
    prose = dict(prose_lines("\n".join(lines)))
    text = "\n".join(strip_code_spans(prose.get(n, "")) for n in range(1, len(lines) + 1))
    for match in INLINE.finditer(text):
        yield text.count("\n", 0, match.start(1)) + 1, match.group(1)
    for number, line in enumerate(text.splitlines(), 1):
        reference = REFERENCE.match(line)
        if reference:
            yield number, reference.group(1)


def default_files():
    files = [REPO / name for name in DEFAULT_FILES if (REPO / name).exists()]
    files += sorted((REPO / "docs").rglob("*.md"))
    return files


def main(argv):
    files = [Path(arg).resolve() for arg in argv] or default_files()
    broken = checked = 0
    for path in files:
        for number, target in links(path):
            checked += 1
            why = check_target(path, target)
            if why:
                broken += 1
                print(f"{path.relative_to(REPO)}:{number}: {target}: {why}")
    print(f"check_links: {checked} links in {len(files)} files, {broken} broken", file=sys.stderr)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
