#!/usr/bin/env python3
"""Parity by sampling the recipe space: configs drawn from timm's pretrained configs and
torchvision's classification weights, each run through the REAL timm / torchvision code beside
`zoorepro preprocess --recipe timm:NAME` / `torchvision:WEIGHTS[@tensor-v1|@tensor-v2]`, compared
byte for byte on every file.

The draw is stratified so that every interpolation, crop_mode, crop_pct, input size and
mean/std of timm's table, every resize/crop/interpolation/mean of torchvision's, both tensor
paths and timm's two normalisations (the prefetcher's `(x - 255 mean) / (255 std)` and
`@no-prefetcher`'s ToTensor + Normalize) appear at least once; the rest is filled at random
(fixed seed) up to --count configs.

The reference side is the packages' own code, not a re-implementation:
  timm:NAME                timm.data.resolve_data_config(pretrained_cfg, use_test_size=True) (as
                           validate.py), timm.data.create_loader(use_prefetcher=True, CPU,
                           batch 1, no workers): the eval transforms, fast_collate and
                           PrefetchLoader's normalisation, on the image timm's ImageDataset
                           opens (Image.open(path).convert('RGB'))
  timm:NAME@no-prefetcher  create_transform(**config, use_prefetcher=False) on the same image
  torchvision:W            W.transforms() on Image.open(path).convert('RGB')
  torchvision:W@tensor-v1  W.transforms() on decode_jpeg(read_file(path), mode=RGB)
  torchvision:W@tensor-v2  v2.Resize(resize, interpolation, antialias=True), v2.CenterCrop,
                           v2.ToDtype(float32, scale=True), v2.Normalize on that tensor

Files: the shared ImageNet sample, tests/jpeg-corpus/files and tests/jpeg-corpus/made (the
generated cases: scripts/parity/assemble_jpeg_corpus.sh makes them). A file the reference
refuses must be refused by zoorepro with exit status 2 and the other way round (one-sided
acceptances are counted apart from differing tensors).

Output: one line per config (files, identical, differing with the max abs diff, one-sided),
--markdown FILE writes that table for docs/recipes.md, --sha256 FILE writes the digests CI
checks without the heavy packages (tests/sampled_configs_sha256.json: per config one digest over
all its files, and per-file digests of every 16th sample image). Exit status 0 only when there is
no disagreement.

    /work/venv-peers/bin/python scripts/parity/parity_sampled.py [--bin target/release/zoorepro]
        [--count 64] [--seed 37] [--files GLOB ...] [--only CONFIG ...] [--sha256 FILE]
        [--markdown FILE] [--json FILE]

The venv holds the versions the shipped tables pin (scripts/tables/generate_recipe_tables.py):
timm 1.0.31, torch 2.15.0, torchvision 0.29.2, Pillow 13.0.0. Run by hand on one thread;
CI never installs them.
"""

import argparse
import collections
import glob
import hashlib
import json
import os
import random
import sys
import warnings

import numpy as np

import subprocess
import tempfile

import timm
import torch
import torchvision
from PIL import Image
from timm.data import create_loader, create_transform, resolve_data_config
from timm.models import get_pretrained_cfg
from torchvision.io import ImageReadMode, decode_jpeg, read_file
from torchvision.transforms import v2

warnings.filterwarnings("ignore")  # torchvision 0.29 deprecates its decoders

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLE = os.path.join(REPO, "..", "shared", "imagenet-sample")
CORPUS = os.path.join(REPO, "tests", "jpeg-corpus")


# ---------------------------------------------------------------------------------------------
# The space and the draw


def timm_configs():
    """timm's pretrained configs as validate.py resolves them: name -> data config."""
    out = {}
    for name in timm.list_pretrained():
        cfg = get_pretrained_cfg(name)
        if cfg is None:
            continue
        data = resolve_data_config({}, pretrained_cfg=cfg.to_dict(), use_test_size=True)
        _, h, w = data["input_size"]
        if h != w:
            continue  # non-square inputs: zoorepro refuses them (docs/recipes.md)
        out[name] = data
    return out


def torchvision_weights():
    """torchvision's classification weights: 'Enum.MEMBER' -> the weights."""
    out = {}
    for model in torchvision.models.list_models(module=torchvision.models):
        for weights in torchvision.models.get_model_weights(model):
            out[f"{type(weights).__name__}.{weights.name}"] = weights
    return out


def timm_strata(data):
    return {
        "interpolation": data["interpolation"],
        "crop_mode": data["crop_mode"],
        "crop_pct": round(data["crop_pct"], 4),
        "size": data["input_size"][1],
        "mean/std": (tuple(round(m, 4) for m in data["mean"]), tuple(round(s, 4) for s in data["std"])),
    }


def torchvision_strata(weights):
    t = weights.transforms()
    return {
        "resize": t.resize_size[0],
        "crop": t.crop_size[0],
        "interpolation": t.interpolation.value,
        "mean/std": (tuple(t.mean), tuple(t.std)),
    }


def cover(candidates, strata, rng):
    """Names from `candidates` (name -> strata dict) until every value of every key appears."""
    chosen = []
    seen = collections.defaultdict(set)
    names = sorted(candidates)
    rng.shuffle(names)
    keys = sorted({k for s in candidates.values() for k in s})
    for key in keys:
        for value in sorted({repr(candidates[n][key]) for n in names}):
            if value in seen[key]:
                continue
            pick = next(n for n in names if repr(candidates[n][key]) == value)
            chosen.append(pick)
            for k in keys:
                seen[k].add(repr(candidates[pick][k]))
    return chosen


def draw(count, seed):
    """The sampled configs: recipe source strings, stratified, then filled at random."""
    rng = random.Random(seed)
    timm_cfgs = timm_configs()
    tv = torchvision_weights()
    timm_strata_all = {n: timm_strata(d) for n, d in timm_cfgs.items()}
    tv_strata_all = {n: torchvision_strata(w) for n, w in tv.items()}
    sources = [f"timm:{n}" for n in cover(timm_strata_all, timm_strata_all, rng)]
    sources += [f"torchvision:{n}" for n in cover(tv_strata_all, tv_strata_all, rng)]
    bilinear = sorted(n for n, s in tv_strata_all.items() if s["interpolation"] == "bilinear")
    for suffix in ("@tensor-v1", "@tensor-v2"):
        sources += [f"torchvision:{n}{suffix}" for n in rng.sample(bilinear, 3)]
    prefetched = [s for s in sources if s.startswith("timm:")]
    sources += [f"{s}@no-prefetcher" for s in rng.sample(prefetched, min(4, len(prefetched)))]
    rest_timm = sorted(set(timm_cfgs) - {s[5:] for s in sources if s.startswith("timm:")})
    rest_tv = sorted(set(tv) - {s[12:] for s in sources if s.startswith("torchvision:")})
    while len(sources) < count:
        if rng.random() < 0.7 and rest_timm:
            sources.append("timm:" + rest_timm.pop(rng.randrange(len(rest_timm))))
        elif rest_tv:
            sources.append("torchvision:" + rest_tv.pop(rng.randrange(len(rest_tv))))
    return sources, timm_cfgs, tv


# ---------------------------------------------------------------------------------------------
# The reference side: the packages' own code


class Images(torch.utils.data.Dataset):
    """Already-opened images, transformed the way timm's ImageDataset transforms its own."""

    def __init__(self, images):
        self.images = images
        self.transform = None

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        img = self.images[i]
        return (self.transform(img) if self.transform is not None else img), 0


def pil_image(path):
    """What timm's ImageDataset and torchvision's examples open, or None where Pillow refuses."""
    try:
        with open(path, "rb") as f:
            img = Image.open(f)
            return img.convert("RGB")
    except Exception:  # noqa: BLE001 (Pillow raises many types for bad files)
        return None


def jpeg_tensor(path):
    try:
        return decode_jpeg(read_file(path), mode=ImageReadMode.RGB)
    except (RuntimeError, ValueError):
        return None


def timm_reference(data, prefetcher):
    """A function path -> timm's float32 tensor (CHW), or None where the image is refused."""
    if prefetcher:
        def run(path):
            img = pil_image(path)
            if img is None:
                return None
            loader = create_loader(Images([img]), input_size=data["input_size"], batch_size=1,
                                   is_training=False, use_prefetcher=True,
                                   interpolation=data["interpolation"], mean=data["mean"],
                                   std=data["std"], num_workers=0, crop_pct=data["crop_pct"],
                                   crop_mode=data["crop_mode"], device=torch.device("cpu"))
            try:
                batch, _ = next(iter(loader))
            except ValueError:  # Pillow refuses a side that rounds to 0 (crop_mode border)
                return None
            return batch[0].numpy()
        return run
    transform = create_transform(**data, is_training=False, use_prefetcher=False)

    def run(path):
        img = pil_image(path)
        try:
            return None if img is None else transform(img).numpy()
        except ValueError:  # Pillow refuses a side that rounds to 0 (crop_mode border)
            return None
    return run


def torchvision_reference(weights, path_kind):
    t = weights.transforms()
    if path_kind == "pil":
        def run(path):
            img = pil_image(path)
            return None if img is None else t(img).numpy()
        return run
    if path_kind == "tensor-v1":
        def run(path):
            img = jpeg_tensor(path)
            return None if img is None else t(img).numpy()
        return run
    v2_transform = v2.Compose([
        v2.Resize(t.resize_size, interpolation=t.interpolation, antialias=True),
        v2.CenterCrop(t.crop_size),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(mean=t.mean, std=t.std),
    ])

    def run(path):
        img = jpeg_tensor(path)
        return None if img is None else v2_transform(img).numpy()
    return run


def reference_for(source, timm_cfgs, tv):
    family, _, rest = source.partition(":")
    name, _, suffix = rest.partition("@")
    if family == "timm":
        return timm_reference(timm_cfgs[name], prefetcher=suffix != "no-prefetcher")
    return torchvision_reference(tv[name], suffix or "pil")


# ---------------------------------------------------------------------------------------------
# zoorepro's side: `preprocess --skip-failed`, one call per chunk of files


def zoorepro(binary, source, paths, shape_bytes):
    """zoorepro's tensors of `paths` (path -> array, None where it skipped the file), and the
    files whose call exited other than 0 or 2."""
    out, odd = {}, []
    chunk = max(1, min(256, (256 << 20) // shape_bytes))
    with tempfile.TemporaryDirectory() as tmp:
        npy = os.path.join(tmp, "t.npy")
        for start in range(0, len(paths), chunk):
            part = paths[start:start + chunk]
            run = subprocess.run([binary, "preprocess", "--recipe", source, "--threads", "1",
                                  "--skip-failed", *part, "--out", npy],
                                 capture_output=True, text=True)
            skipped = {p for p in part if f"skipped: {p}: " in run.stderr}
            if run.returncode not in (0, 2) or (run.returncode == 2) != bool(skipped):
                odd += [(p, f"zoorepro exit {run.returncode}", run.stderr[-300:]) for p in part]
                continue
            kept = [p for p in part if p not in skipped]
            arrays = np.load(npy) if kept else []
            out.update(zip(kept, arrays))
            out.update((p, None) for p in skipped)
    return out, odd


def compare(binary, source, files, reference):
    """The report of one config: counts, one-sided acceptances, differing tensors."""
    refs = {path: reference(path) for path in files}
    some = next((r for r in refs.values() if r is not None), None)
    ours, odd = zoorepro(binary, source, files, some.nbytes if some is not None else 4)
    report = {"files": len(files), "accepted": sum(r is not None for r in refs.values()),
              "identical": 0, "acceptance": list(odd), "differ": [], "max_abs_diff": 0.0}
    for path in files:
        mine, theirs = ours.get(path), refs[path]
        if (mine is None) != (theirs is None):
            side = "reference accepts, zoorepro refuses" if mine is None else \
                "reference refuses, zoorepro accepts"
            report["acceptance"].append((path, side))
        elif mine is not None:
            diff = float(np.abs(mine.astype(np.float64) - theirs).max()) if \
                mine.shape == theirs.shape else float("inf")
            report["max_abs_diff"] = max(report["max_abs_diff"], diff)
            if mine.shape == theirs.shape and mine.tobytes() == theirs.tobytes():
                report["identical"] += 1
            else:
                report["differ"].append((path, diff))
    return report, refs


# ---------------------------------------------------------------------------------------------


def digest(arrays):
    h = hashlib.sha256()
    for name, array in arrays:
        h.update(name.encode() + b"\0")
        h.update(b"refused" if array is None else array.astype(np.float32).tobytes())
    return h.hexdigest()


def write_outputs(args, digests, rows, full):
    if args.sha256:
        with open(args.sha256, "w") as f:
            json.dump({"timm": timm.__version__, "torch": torch.__version__.split("+")[0],
                       "torchvision": torchvision.__version__.split("+")[0],
                       "pillow": Image.__version__, "seed": args.seed, "configs": digests},
                      f, indent=1, sort_keys=True)
            f.write("\n")
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("| config | files | identical | differing | max abs diff | one-sided |\n")
            f.write("|---|---:|---:|---:|---:|---:|\n")
            for source, n, same, differ, diff, one_sided in rows:
                f.write(f"| `{source}` | {n} | {same} | {differ} | {diff:.3g} | {one_sided} |\n")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(full, f, indent=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=os.path.join(REPO, "target", "release", "zoorepro"))
    ap.add_argument("--count", type=int, default=64)
    ap.add_argument("--seed", type=int, default=37)
    ap.add_argument("--files", nargs="*", help="globs (default: sample, corpus files and made)")
    ap.add_argument("--only", nargs="*", help="these recipe sources instead of a draw")
    ap.add_argument("--sha256", help="write the digests CI checks to this JSON file")
    ap.add_argument("--markdown", help="write the per-config table to this Markdown file")
    ap.add_argument("--json", help="write the full report to this JSON file")
    ap.add_argument("--reference-only", action="store_true",
                    help="only the real packages' digests (--sha256), no zoorepro")
    args = ap.parse_args()
    torch.set_num_threads(1)

    sources, timm_cfgs, tv = draw(args.count, args.seed)
    if args.only:
        sources = [s for only in args.only for s in only.split()]
    sample = sorted(glob.glob(os.path.join(SAMPLE, "*", "*.JPEG")))
    if args.files:
        files = sorted(f for g in args.files for f in glob.glob(g))
    else:
        files = sample + sorted(glob.glob(os.path.join(CORPUS, "files", "*"))) + sorted(
            glob.glob(os.path.join(CORPUS, "made", "*")))
    print(f"timm {timm.__version__}, torch {torch.__version__}, torchvision "
          f"{torchvision.__version__}, Pillow {Image.__version__}, cpu capability "
          f"{torch.backends.cpu.get_cpu_capability()}; {len(sources)} configs x {len(files)} files")
    checked = set(sample[::16])
    rows, full, digests, bad = [], {}, {}, 0
    for source in sources:
        reference = reference_for(source, timm_cfgs, tv)
        if args.reference_only:
            refs = {path: reference(path) for path in files}
        else:
            report, refs = compare(args.bin, source, files, reference)
            full[source] = report
            bad += len(report["acceptance"]) + len(report["differ"])
            rows.append((source, report["files"], report["identical"], len(report["differ"]),
                         report["max_abs_diff"], len(report["acceptance"])))
            print(f"{source:60} files {report['files']:5}  identical {report['identical']:5}  "
                  f"differing {len(report['differ']):4} (max {report['max_abs_diff']:.3g})  "
                  f"one-sided {len(report['acceptance']):3}", flush=True)
            for row in (report["acceptance"] + report["differ"])[:5]:
                print("   ", *row)
        names = [(os.path.relpath(p, REPO if not p.startswith(SAMPLE) else SAMPLE), refs[p])
                 for p in files]
        digests[source] = {
            "all": digest(names),
            "files": len(files),
            "sample": {os.path.relpath(p, SAMPLE): hashlib.sha256(refs[p].tobytes()).hexdigest()
                       for p in sample if p in checked and refs.get(p) is not None},
        }
        # Written after every config, so that a run stopped early keeps what it measured.
        write_outputs(args, digests, rows, full)
    print(f"{len(sources)} configs; " + ("OK: no disagreement" if bad == 0 else f"{bad} disagreements"))
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
