#!/usr/bin/env python3
"""Parity of zoorepro's OpenCV presets (mlperf-resnet50, mlperf-mobilenet) with the real
opencv-python-headless (scripts/requirements-protocols.txt, installed in a venv outside the repo).

For every file (default: the shared ImageNet sample and the public JPEG corpus
tests/jpeg-corpus/files), OpenCV and NumPy compute MLPerf Inference's dataset.py preprocessing

    img = cv2.imread(path)                      # None when OpenCV refuses the file
    img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    img = resize_with_aspectratio(img, 224, 224, inter_pol=INTER_AREA | INTER_LINEAR)
    img = center_crop(img, 224, 224)
    img = np.asarray(img, dtype='float32')
    img -= [123.68, 116.78, 103.94]  (then NCHW)  |  img = (img / 255.0 - 0.5) * 2  (NHWC)

and zoorepro `preprocess --recipe mlperf-<model>` must accept exactly the files OpenCV accepts,
with float32 tensors whose bytes are equal (max abs diff 0). Prints, per preset and group, the
files, OpenCV's acceptances, the acceptance disagreements (one-sided acceptances), the files whose
tensors differ and the largest absolute difference. Exit status 0 only when there is none.
libjpeg's warnings, which OpenCV prints, go to stderr: add 2>/dev/null.

    /work/venv-opencv/bin/python scripts/parity/parity_opencv.py [--bin target/release/zoorepro]
        [--files GLOB ...] [--presets mlperf-resnet50,mlperf-mobilenet] [--sha256 FILE]

--sha256 FILE writes OpenCV's tensor digests of the shared sample into FILE (for
tests/presets/opencv_presets.rs), keeping the other presets' digests there (parity_geometry.py
records MLPerf's other two presets in the same file).
Run by hand; CI never installs OpenCV.
"""

import argparse
import glob
import hashlib
import json
import os
import sys

import cv2
import numpy as np

import library_parity  # noqa: E402  (scripts/parity/library_parity.py)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLE = os.path.join(REPO, "..", "shared", "imagenet-sample")
CORPUS = os.path.join(REPO, "tests", "jpeg-corpus", "files")


def resize_with_aspectratio(img, out_height, out_width, scale=87.5, inter_pol=cv2.INTER_LINEAR):
    """dataset.py's function, as MLPerf wrote it."""
    height, width, _ = img.shape
    new_height = int(100. * out_height / scale)
    new_width = int(100. * out_width / scale)
    if height > width:
        w = new_width
        h = int(new_height * height / width)
    else:
        h = new_height
        w = int(new_width * width / height)
    return cv2.resize(img, (w, h), interpolation=inter_pol)


def center_crop(img, out_height, out_width):
    height, width, _ = img.shape
    left = int((width - out_width) / 2)
    right = int((width + out_width) / 2)
    top = int((height - out_height) / 2)
    bottom = int((height + out_height) / 2)
    return img[top:bottom, left:right]


def pre_process_vgg(img):
    img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    img = resize_with_aspectratio(img, 224, 224, inter_pol=cv2.INTER_AREA)
    img = center_crop(img, 224, 224)
    img = np.asarray(img, dtype="float32")
    img -= np.array([123.68, 116.78, 103.94], dtype=np.float32)
    return img.transpose([2, 0, 1])


def pre_process_mobilenet(img):
    img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    img = resize_with_aspectratio(img, 224, 224, inter_pol=cv2.INTER_LINEAR)
    img = center_crop(img, 224, 224)
    img = np.asarray(img, dtype="float32")
    img /= 255.0
    img -= 0.5
    img *= 2
    return img


PIPELINES = {"mlperf-resnet50": pre_process_vgg, "mlperf-mobilenet": pre_process_mobilenet}


def reference(path, preset):
    """OpenCV's tensor for one file, or None when imread refuses it (returns None, or raises
    for a picture over its size limits)."""
    try:
        img = cv2.imread(path)
    except cv2.error:
        return None
    if img is None:
        return None
    return np.ascontiguousarray(PIPELINES[preset](img))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=os.path.join(REPO, "target", "release", "zoorepro"))
    ap.add_argument("--files", nargs="*", help="globs (default: the shared sample and corpus)")
    ap.add_argument("--presets", default="mlperf-resnet50,mlperf-mobilenet")
    ap.add_argument("--sha256", help="write the sample's OpenCV digests to this JSON file")
    ap.add_argument("--json", help="write the full report to this JSON file")
    args = ap.parse_args()
    cv2.setNumThreads(1)

    sample = sorted(glob.glob(os.path.join(SAMPLE, "*", "*.JPEG")))
    sample_set = set(sample)
    if args.files:
        groups = {"files": sorted(os.path.join(REPO, os.path.relpath(f, REPO))
                                  for g in args.files for f in glob.glob(g))}
    else:
        groups = {"sample": sample, "corpus": sorted(glob.glob(os.path.join(CORPUS, "*")))}
    print(f"opencv {cv2.__version__}, numpy {np.__version__}")
    bad = 0
    digests = {}
    full = {}
    for preset in args.presets.split(","):
        for group, files in groups.items():
            report, refs = library_parity.compare(
                args.bin, preset, files, lambda path: reference(path, preset), "cv2")
            full[f"{preset}/{group}"] = report
            found = report["acceptance"] + report["differ"]
            bad += len(found)
            identical = report["compared"] - len(report["differ"])
            print(f"{preset:16} {group:7} files {report['files']:5}  cv2 accepts "
                  f"{report['cv2_accepts']:5}  both accept {report['compared']:5}  identical "
                  f"{identical:5}  differing {len(report['differ']):3}  one-sided acceptances "
                  f"{len(report['acceptance']):3}  max abs diff {report['max_abs_diff']:.3g}")
            for row in found:
                print("   ", *row)
            in_sample = [p for p in files if p in sample_set and refs[p] is not None]
            if in_sample:
                digests.setdefault(preset, {}).update({
                    os.path.relpath(p, SAMPLE): hashlib.sha256(refs[p].tobytes()).hexdigest()
                    for p in in_sample})
    if args.sha256:
        # The file also holds presets this script does not compute (parity_geometry.py's).
        recorded = {"digests": {}}
        if os.path.exists(args.sha256):
            with open(args.sha256) as f:
                recorded = json.load(f)
        recorded["opencv"] = cv2.__version__
        recorded["digests"].update(digests)
        with open(args.sha256, "w") as f:
            json.dump(recorded, f, indent=1, sort_keys=True)
            f.write("\n")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(full, f, indent=1)
    print("OK: no disagreement" if bad == 0 else f"{bad} disagreements")
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
