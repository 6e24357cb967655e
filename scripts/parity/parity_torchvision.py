#!/usr/bin/env python3
"""Parity of zoorepro's torch presets (torchvision-tensor, torchvision-tensor-v1) with the real
torch + torchvision on CPU (scripts/requirements-protocols.txt, installed in a venv outside the
repo).

For every file (default: the shared ImageNet sample, the public JPEG corpus
tests/jpeg-corpus/files and its generated cases tests/jpeg-corpus/made), torchvision decodes

    img = torchvision.io.decode_jpeg(torchvision.io.read_file(path), mode=ImageReadMode.RGB)

and then, on the uint8 CHW tensor:

    torchvision-tensor       v2.Resize(256, antialias=True), v2.CenterCrop(224),
                             v2.ToDtype(torch.float32, scale=True),
                             v2.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    torchvision-tensor-v1    ResNet50_Weights.IMAGENET1K_V1.transforms() (the v1
                             ImageClassification: F.resize, F.center_crop,
                             F.convert_image_dtype, F.normalize)

and zoorepro `preprocess --recipe <preset>` must accept exactly the files torchvision accepts
(refusing the others with exit status 2), with float32 tensors whose bytes are equal (max abs
diff 0). Prints per preset and group the files compared, both-accept-and-identical, differing
tensors with the largest absolute difference, and one-sided acceptances. Exit status 0 only when
there is no disagreement. torch's kernels depend on the CPU: the header prints the capability
torch runs with; set ATEN_CPU_CAPABILITY=default|avx2|avx512 to pick another (both presets
reproduce avx2 and avx512, not default: docs/pipelines/torchvision-tensor.md).

    /work/venv-torch/bin/python scripts/parity/parity_torchvision.py [--bin target/release/zoorepro]
        [--files GLOB ...] [--presets torchvision-tensor,torchvision-tensor-v1] [--sha256 FILE]
        [--json FILE]

--sha256 FILE writes torchvision's tensor digests of the shared sample (for tests/presets/torch_presets.rs).
Run by hand, on one thread; CI never installs torch.
"""

import argparse
import glob
import hashlib
import json
import os
import sys
import warnings

import numpy as np

import library_parity  # noqa: E402  (scripts/parity/library_parity.py)
import torch
import torchvision
from torchvision.io import ImageReadMode, decode_jpeg, read_file
from torchvision.models import ResNet50_Weights
from torchvision.transforms import v2

warnings.filterwarnings("ignore")  # torchvision 0.29 deprecates its decoders in favour of torchcodec

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLE = os.path.join(REPO, "..", "shared", "imagenet-sample")
CORPUS = os.path.join(REPO, "tests", "jpeg-corpus", "files")
MADE = os.path.join(REPO, "tests", "jpeg-corpus", "made")
TRANSFORMS = {
    "torchvision-tensor": v2.Compose([
        v2.Resize(256, antialias=True),
        v2.CenterCrop(224),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
    ]),
    "torchvision-tensor-v1": ResNet50_Weights.IMAGENET1K_V1.transforms(),
}


def reference(path, preset):
    """torchvision's tensor for one file, or None when decode_jpeg refuses it."""
    try:
        img = decode_jpeg(read_file(path), mode=ImageReadMode.RGB)
    except (RuntimeError, ValueError):
        return None
    return TRANSFORMS[preset](img).numpy()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=os.path.join(REPO, "target", "release", "zoorepro"))
    ap.add_argument("--files", nargs="*", help="globs (default: the shared sample and corpus)")
    ap.add_argument("--presets", default=",".join(TRANSFORMS))
    ap.add_argument("--sha256", help="write the sample's torchvision digests to this JSON file")
    ap.add_argument("--json", help="write the full report to this JSON file")
    ap.add_argument("--against", help="run this zoorepro preset instead of each preset (what a "
                    "preset without the variant gives: the 'before' figures of the docs)")
    args = ap.parse_args()
    torch.set_num_threads(1)

    sample = sorted(glob.glob(os.path.join(SAMPLE, "*", "*.JPEG")))
    if args.files:
        groups = {"files": sorted(f for g in args.files for f in glob.glob(g))}
    else:
        groups = {"sample": sample, "corpus": sorted(glob.glob(os.path.join(CORPUS, "*"))),
                  "made": sorted(glob.glob(os.path.join(MADE, "*")))}
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, cpu capability "
          f"{torch.backends.cpu.get_cpu_capability()}, numpy {np.__version__}")
    bad = 0
    digests = {}
    full = {}
    for preset in args.presets.split(","):
        for group, files in groups.items():
            report, refs = library_parity.compare(
                args.bin, args.against or preset, files, lambda path: reference(path, preset),
                "torchvision")
            full[f"{preset}/{group}"] = report
            bad += len(report["acceptance"]) + len(report["differ"])
            print(f"{preset:21} {group:7} files {report['files']:5}  torchvision accepts "
                  f"{report['torchvision_accepts']:5}  both accept, identical "
                  f"{report['identical']:5}  differing {len(report['differ']):3} (max abs diff "
                  f"{report['max_abs_diff']:.3g})  one-sided acceptances "
                  f"{len(report['acceptance']):3}")
            for row in report["acceptance"] + report["differ"]:
                print("   ", *row)
            if group == "sample" and not args.against:
                digests[preset] = {
                    os.path.relpath(p, SAMPLE): hashlib.sha256(refs[p].tobytes()).hexdigest()
                    for p in files if refs[p] is not None}
    if args.sha256:
        with open(args.sha256, "w") as f:
            json.dump({"torch": torch.__version__.split("+")[0],
                       "torchvision": torchvision.__version__.split("+")[0],
                       "digests": digests}, f, indent=1, sort_keys=True)
            f.write("\n")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(full, f, indent=1)
    print("OK: no disagreement" if bad == 0 else f"{bad} disagreements")
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
