#!/usr/bin/env python3
"""Builds an ImageFolder tree of N symlinks to the images of a small ImageFolder sample (default: the 100
images of ../shared/imagenet-sample), for testing and benchmarking at the scale of the 50,000-image validation
set with what is on this machine. Link i points at sample image i mod len(sample) and sits in that image's
class folder under a unique validation-style name (ILSVRC2012_val_{i+1:08d}.JPEG), since the basename is an
image's identity in zoorepro's store.

Usage: make_symlink_val.py SAMPLE_DIR OUT_DIR N
"""
import os
import sys


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    sample, out, n = os.path.abspath(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    files = sorted(os.path.join(d, f) for d in os.listdir(sample) if os.path.isdir(os.path.join(sample, d))
                   for f in os.listdir(os.path.join(sample, d)))
    if not files:
        sys.exit("%s holds no class folders" % sample)
    for i in range(n):
        src = files[i % len(files)]
        folder = os.path.join(out, os.path.dirname(src))
        os.makedirs(folder, exist_ok=True)
        os.symlink(os.path.join(sample, src), os.path.join(folder, "ILSVRC2012_val_%08d.JPEG" % (i + 1)))
    print("%d links in %s" % (n, out))


if __name__ == "__main__":
    main()
