#!/usr/bin/env python3
"""Writes the tables behind the `timm:` and `torchvision:` recipe sources from the real packages.

    /work/venv-peers/bin/python scripts/tables/generate_recipe_tables.py [--shared ../shared]
        [--out src/image/sources] [--check] [--dump-resolved FILE]

Run with a Python that has the pinned packages (timm 1.0.31, torchvision 0.29.2, torch 2.15.0; the
versions are written into each table and checked here). It writes:

- `src/image/sources/timm.json`: every pretrained config of `timm.list_pretrained()`, one row per
  config `[name, cfg, default]`: `cfg` indexes `cfgs`, the distinct tuples of the fields
  `resolve_data_config` reads (`input_size`, `test_input_size`, `interpolation`, `crop_pct`,
  `test_crop_pct`, `crop_mode`, `mean`, `std`; null where the config leaves one unset), `default`
  is 1 for the tag `timm.create_model(arch, pretrained=True)` loads.
- `src/image/sources/torchvision.json`: every classification weight of
  `torchvision.models.list_models(module=torchvision.models)`, one row each: `[weights, model,
  resize_size, crop_size, interpolation, antialias, mean, std, default]` as `weights.transforms()`
  (ImageClassification) holds them; `default` is 1 for the member `Weights.DEFAULT` points at.

It checks, before writing, that the rule zoorepro applies to a row (mirrored by `resolve_timm` and
`resolve_torchvision` below, implemented in `src/image/sources/`) gives what the real code builds:
for every timm config, `resolve_data_config(pretrained_cfg=..., use_test_size=True)` (validate.py's
default) and `create_transform(...)` for both loader paths (the Resize/CenterCrop/ResizeKeepRatio/
CenterCropOrPad sizes, interpolation and fill) and the float32 mean/std tensors of `PrefetchLoader`
and `Normalize`; for every torchvision weight, the `ImageClassification` fields. The resolved
recipes of every source are written one line each in a canonical form and their sha256 stored in
the table (`resolved_sha256`): the Rust unit test resolves every row and must reach the same digest
(`--dump-resolved FILE` writes the lines, to diff against the test's output when they differ).

Finally it cross-checks both tables with ../shared/reference/timm_pretrained_cfgs.json (dumped from
timm 1.0.29.dev0: configs may differ) and torchvision_weights.json, and prints the differences.
`--check` writes nothing and exits 1 when a committed table differs from what it would write.
"""

import argparse
import hashlib
import json
import math
import os
import struct
import sys

import numpy as np
import timm
import torch
import torchvision
from timm.data import create_transform, resolve_data_config
from timm.data.loader import PrefetchLoader
from timm.data.transforms import CenterCropOrPad, ResizeKeepRatio
from timm.models import get_pretrained_cfg
from torchvision import transforms as T

PINNED = {"timm": "1.0.31", "torchvision": "0.29.2", "torch": "2.15.0"}
TIMM_FIELDS = ["input_size", "test_input_size", "interpolation", "crop_pct", "test_crop_pct",
               "crop_mode", "mean", "std"]
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
FILTERS = {"nearest": "NEAREST", "bilinear": "BILINEAR", "bicubic": "BICUBIC", "box": "BOX",
           "hamming": "HAMMING", "lanczos": "LANCZOS"}


def base_version(version):
    return version.split("+")[0]


def check_versions():
    found = {"timm": timm.__version__, "torchvision": torchvision.__version__, "torch": torch.__version__}
    for name, version in found.items():
        if base_version(version) != PINNED[name]:
            sys.exit(f"{name} {version} is not the pinned {PINNED[name]}: run with the peers' venv")
    return found


def f32(x):
    """The float32 nearest to a Python float, as its bit pattern in hex."""
    return "%08x" % struct.unpack("<I", struct.pack("<f", float(np.float32(x))))[0]


def canonical(source, recipe):
    """One resolved source in the form the Rust test writes: a refusal, or every tensor field."""
    if recipe is None:
        return f"{source}\trefused\n"
    r = recipe
    return "\t".join([
        source, r["library"], r["variant"], r["resize_mode"], str(r["resize_size"]), str(r["crop_size"]),
        r["filter"], f32(r["scale"]), ",".join(f32(m) for m in r["mean"]),
        ",".join(f32(s) for s in r["std"]), "rgb", "nchw", ",".join(str(v) for v in r["fill"]),
    ]) + "\n"


# ---- timm -------------------------------------------------------------------------------------


def timm_rows():
    """(name, fields, default) for every pretrained config, in list_pretrained's order."""
    rows = []
    for name in timm.list_pretrained():
        cfg = get_pretrained_cfg(name).to_dict()
        fields = []
        for key in TIMM_FIELDS:
            value = cfg.get(key)
            fields.append(list(value) if isinstance(value, tuple) else value)
        arch = name.split(".", 1)[0]
        default = get_pretrained_cfg(arch).tag == name.split(".", 1)[1]
        rows.append((name, fields, default))
    return rows


def resolve_timm(fields, prefetcher):
    """zoorepro's rule (src/image/sources/timm.rs): validate.py's data config, then the recipe."""
    input_size, test_input_size, interpolation, crop_pct, test_crop_pct, crop_mode, mean, std = fields
    size = test_input_size if test_input_size is not None else input_size
    size = size if size is not None else [3, 224, 224]
    if size[0] != 3 or size[1] != size[2]:
        return None
    interpolation = interpolation or "bicubic"
    mean = mean or list(IMAGENET_MEAN)
    std = std or list(IMAGENET_STD)
    pct = test_crop_pct or crop_pct or 0.875
    mode = crop_mode or "center"
    if interpolation not in FILTERS or mode not in ("center", "squash", "border") or len(mean) != 3 \
            or len(std) != 3:
        return None
    scale_size = math.floor(size[1] / pct)
    resize_mode = {"center": "shorter-side", "squash": "squash-crop", "border": "fit-pad"}[mode]
    fill = [round(255 * m) for m in mean] if mode == "border" else [0, 0, 0]
    if prefetcher:
        scale, mean32, std32 = 1.0, [255.0 * m for m in mean], [255.0 * s for s in std]
    else:
        scale, mean32, std32 = 255.0, mean, std
    return {"library": "pillow", "variant": "standard", "resize_mode": resize_mode,
            "resize_size": scale_size, "crop_size": size[1], "filter": FILTERS[interpolation],
            "scale": scale, "mean": mean32, "std": std32, "fill": fill}


def interpolation_name(mode):
    return mode.value if hasattr(mode, "value") else str(mode)


def timm_real(fields):
    """What timm's own code builds for a config on validate.py's default path: the geometry of the
    eval transform and the float32 normalisation of both loader paths."""
    cfg = dict(zip(TIMM_FIELDS, [tuple(v) if isinstance(v, list) else v for v in fields]))
    data = resolve_data_config({}, pretrained_cfg=cfg, use_test_size=True)
    built = {}
    for prefetcher in (True, False):
        tf = create_transform(**data, is_training=False, use_prefetcher=prefetcher).transforms
        resize, crop = tf[0], tf[1]
        if isinstance(resize, ResizeKeepRatio):
            mode, size = "fit-pad", resize.size
            interp = resize.interpolation
        elif isinstance(resize.size, int):
            mode, size, interp = "shorter-side", (resize.size, resize.size), resize.interpolation
        else:
            mode, size, interp = "squash-crop", tuple(resize.size), resize.interpolation
        fill = list(crop.fill) if isinstance(crop, CenterCropOrPad) else [0, 0, 0]
        if prefetcher:
            loader = PrefetchLoader([], mean=data["mean"], std=data["std"], device=torch.device("cpu"))
            mean, std, scale = loader.mean.flatten().tolist(), loader.std.flatten().tolist(), 1.0
        else:
            norm = tf[-1]
            mean, std, scale = norm.mean.tolist(), norm.std.tolist(), 255.0
            assert isinstance(norm, T.Normalize) and norm.mean.dtype == torch.float32
        interp = interpolation_name(interp)
        built[prefetcher] = {
            "resize_mode": mode, "resize_size": size, "crop_size": tuple(crop.size),
            "filter": FILTERS.get(interp, interp), "scale": scale, "mean": [f32(m) for m in mean],
            "std": [f32(s) for s in std], "fill": fill,
        }
    return data, built


def check_timm(rows):
    """Each row's resolution against timm's real transforms; the non-square ones must be what is
    refused. Returns the canonical lines."""
    lines = []
    for name, fields, _ in rows:
        data, real = timm_real(fields)
        for prefetcher in (True, False):
            ours = resolve_timm(fields, prefetcher)
            source = f"timm:{name}" + ("" if prefetcher else "@no-prefetcher")
            lines.append(canonical(source, ours))
            size = data["input_size"]
            if ours is None:
                assert size[1] != size[2] or size[0] != 3, f"{name}: refused but square"
                continue
            got = real[prefetcher]
            want = {
                "resize_mode": ours["resize_mode"],
                "resize_size": (ours["resize_size"],) * 2,
                "crop_size": (ours["crop_size"],) * 2,
                "filter": ours["filter"],
                "scale": ours["scale"],
                "mean": [f32(m) for m in ours["mean"]],
                "std": [f32(s) for s in ours["std"]],
                "fill": ours["fill"],
            }
            if got != want:
                sys.exit(f"{source}: timm builds {got}, the rule says {want}")
    return lines


def compact_timm(rows):
    cfgs, index, configs = [], {}, []
    for name, fields, default in rows:
        key = json.dumps(fields)
        if key not in index:
            index[key] = len(cfgs)
            cfgs.append(fields)
        configs.append([name, index[key], int(default)])
    return cfgs, configs


# ---- torchvision ------------------------------------------------------------------------------


def torchvision_rows():
    rows = []
    for model in torchvision.models.list_models(module=torchvision.models):
        enum = torchvision.models.get_model_weights(model)
        for weights in enum:
            t = weights.transforms()
            assert type(t).__name__ == "ImageClassification", (weights, type(t))
            rows.append([
                f"{enum.__name__}.{weights.name}", model, list(t.resize_size), list(t.crop_size),
                t.interpolation.value.upper(), bool(t.antialias), list(t.mean), list(t.std),
                int(enum.DEFAULT is weights),
            ])
    return rows


def resolve_torchvision(row, path):
    """zoorepro's rule (src/image/sources/torchvision.rs) for a weight on `path` ("pil",
    "tensor-v2", "tensor-v1")."""
    _, _, resize, crop, interpolation, antialias, mean, std, _ = row
    if len(resize) != 1 or len(crop) != 1 or interpolation not in FILTERS.values():
        return None
    if path != "pil" and (interpolation != "BILINEAR" or not antialias):
        return None
    library, variant = {"pil": ("pillow", "standard"), "tensor-v2": ("torch", "standard"),
                        "tensor-v1": ("torch", "tensor-v1")}[path]
    return {"library": library, "variant": variant, "resize_mode": "shorter-side",
            "resize_size": resize[0], "crop_size": crop[0], "filter": interpolation, "scale": 255.0,
            "mean": mean, "std": std, "fill": [0, 0, 0]}


def check_torchvision(rows):
    lines = []
    for row in rows:
        for path in ("pil", "tensor-v2", "tensor-v1"):
            source = f"torchvision:{row[0]}" + ("" if path == "pil" else f"@{path}")
            lines.append(canonical(source, resolve_torchvision(row, path)))
    return lines


# ---- cross-checks and output ------------------------------------------------------------------


def cross_check_timm(rows, shared):
    with open(os.path.join(shared, "reference", "timm_pretrained_cfgs.json")) as f:
        reference = json.load(f)
    theirs = {c["name"]: c for c in reference["configs"]}
    ours = {name: dict(zip(TIMM_FIELDS, fields)) for name, fields, _ in rows}
    only_ours = sorted(set(ours) - set(theirs))
    only_theirs = sorted(set(theirs) - set(ours))
    changed = []
    for name in sorted(set(ours) & set(theirs)):
        diff = [k for k in TIMM_FIELDS if ours[name][k] != theirs[name][k]]
        if diff:
            changed.append((name, diff))
    print(f"timm {timm.__version__}: {len(ours)} configs; reference (timm {reference['timm_version']}): "
          f"{len(theirs)}; only here {len(only_ours)}, only in the reference {len(only_theirs)}, "
          f"fields differing {len(changed)}")
    for name in only_theirs:
        print(f"  only in the reference: {name}")
    for name, diff in changed:
        print(f"  {name}: " + ", ".join(f"{k} {theirs[name][k]} -> {ours[name][k]}" for k in diff))
    archs = {}
    for name in only_ours:
        archs.setdefault(name.split(".", 1)[0], []).append(name.split(".", 1)[1])
    print(f"  only here: {len(only_ours)} configs of {len(archs)} architectures: "
          + ", ".join(sorted(archs)))


def cross_check_torchvision(rows, shared):
    with open(os.path.join(shared, "reference", "torchvision_weights.json")) as f:
        reference = json.load(f)
    theirs = {w["weights"]: w for w in reference["weights"]}
    fields = ["model", "resize_size", "crop_size", "interpolation", "antialias", "mean", "std"]
    differing = 0
    for row in rows:
        ours = dict(zip(["weights"] + fields, row))
        other = theirs.get(row[0])
        if other is None:
            print(f"  only here: {row[0]}")
            differing += 1
            continue
        diff = [k for k in fields if ours[k] != other[k]]
        if diff:
            differing += 1
            print(f"  {row[0]}: " + ", ".join(f"{k} {other[k]} -> {ours[k]}" for k in diff))
    missing = sorted(set(theirs) - {r[0] for r in rows})
    for name in missing:
        print(f"  only in the reference: {name}")
    print(f"torchvision {torchvision.__version__}: {len(rows)} weights; reference "
          f"({reference['torchvision_version']}): {len(theirs)}; {differing + len(missing)} differ")


def write_table(path, header, key, rows, check):
    """A small JSON, one row a line, so a diff shows which configs changed."""
    lines = ["{"]
    for name, value in header.items():
        lines.append(f"  {json.dumps(name)}: {json.dumps(value)},")
    if key == "configs":
        lines.append('  "cfgs": [')
        cfgs = rows[0]
        lines += [f"    {json.dumps(c)}" + ("," if i + 1 < len(cfgs) else "") for i, c in enumerate(cfgs)]
        lines.append("  ],")
        rows = rows[1]
    lines.append(f'  "{key}": [')
    lines += [f"    {json.dumps(r)}" + ("," if i + 1 < len(rows) else "") for i, r in enumerate(rows)]
    lines.append("  ]")
    lines.append("}")
    text = "\n".join(lines) + "\n"
    if check:
        with open(path) as f:
            if f.read() != text:
                print(f"{path} differs from what the packages give")
                return False
        return True
    with open(path, "w") as f:
        f.write(text)
    print(f"wrote {path} ({len(text)} bytes)")
    return True


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(os.path.dirname(here))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", default=os.path.join(os.path.dirname(repo), "shared"))
    parser.add_argument("--out", default=os.path.join(repo, "src", "image", "sources"))
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--dump-resolved", metavar="FILE")
    args = parser.parse_args()
    versions = check_versions()

    timm_table = timm_rows()
    timm_lines = check_timm(timm_table)
    tv_table = torchvision_rows()
    tv_lines = check_torchvision(tv_table)
    if args.dump_resolved:
        with open(args.dump_resolved, "w") as f:
            f.writelines(timm_lines + tv_lines)
    refused = sum(1 for line in timm_lines if line.endswith("\trefused\n"))
    print(f"timm: {len(timm_lines)} sources ({len(timm_table)} configs x 2 loader paths), {refused} refused")
    refused = sum(1 for line in tv_lines if line.endswith("\trefused\n"))
    print(f"torchvision: {len(tv_lines)} sources ({len(tv_table)} weights x 3 paths), {refused} refused")

    generator = "scripts/tables/generate_recipe_tables.py"
    digest = lambda lines: hashlib.sha256("".join(lines).encode()).hexdigest()
    ok = write_table(os.path.join(args.out, "timm.json"), {
        "generator": generator, "timm": versions["timm"], "torch": versions["torch"],
        "fields": TIMM_FIELDS, "resolved_sha256": digest(timm_lines),
    }, "configs", compact_timm(timm_table), args.check)
    ok &= write_table(os.path.join(args.out, "torchvision.json"), {
        "generator": generator, "torchvision": versions["torchvision"], "torch": versions["torch"],
        "fields": ["weights", "model", "resize_size", "crop_size", "interpolation", "antialias", "mean",
                   "std", "default"],
        "resolved_sha256": digest(tv_lines),
    }, "weights", tv_table, args.check)
    cross_check_timm(timm_table, args.shared)
    cross_check_torchvision(tv_table, args.shared)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
