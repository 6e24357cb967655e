#!/usr/bin/env python3
"""Parity of zoorepro's timm, Keras and MLPerf geometries with the peers' own code.

Runs the peers' REAL code, not a re-implementation, beside `zoorepro preprocess`:

  timm        timm.data.transforms_imagenet_eval(img_size, crop_pct, crop_mode='squash' | 'border',
              interpolation, mean, std, use_prefetcher=False) on Image.open(path).convert('RGB')
              (timm's dataset reader), against zoorepro recipes with resize_mode squash-crop /
              fit-pad, resize_size = floor(img_size / crop_pct), crop_size = img_size and, for
              'border', fill = [round(255 * m) for m in mean] (what timm pads with);
  Keras       keras.utils.load_img(path, target_size=(s, s), interpolation=..., keep_aspect_ratio=True),
              img_to_array, then keras.applications.{resnet50 (caffe), inception_v3 (tf),
              densenet (torch)}.preprocess_input, against resize_mode aspect-crop recipes;
  MLPerf      pre_process_imagenet_pytorch, pre_process_imagenet_tflite_tpu, pre_process_vgg and
              pre_process_mobilenet imported from dataset.py of a checkout of mlcommons/inference
              (--mlperf PATH: never copied here) on cv2.imread(path), against the presets
              mlperf-resnet50-pytorch, mlperf-tflite-tpu, mlperf-resnet50, mlperf-mobilenet.

on the shared ImageNet sample, the public JPEG corpus (tests/jpeg-corpus/files), the generated
cases (tests/jpeg-corpus/made) and pictures of awkward shapes this script writes (1 x 1, 1 x 700,
224 x 224, 512 x 1 ...). zoorepro must accept exactly the files the peer accepts (refusing the
others with exit status 2) with float32 tensors whose bytes are equal, in calls of 32 files
(--chunk; 1 for each file alone) in a shuffled order (--seed, printed) and one call per refused
file. Per config and group it
prints the files, the peer's acceptances, identical and differing tensors (max abs diff) and the
one-sided acceptances (one side gives a tensor, the other refuses), then a Markdown table of all.
Exit status 0 only when nothing differs and no acceptance is one-sided.

    /work/venv-peers/bin/python scripts/parity/parity_geometry.py --mlperf /path/to/mlcommons-inference
        [--bin target/release/zoorepro] [--groups sample,corpus,made,shapes] [--files GLOB ...]
        [--only SUBSTRING] [--jobs 2] [--seed N] [--chunk 32]
        [--sha256 tests/opencv_presets_sha256.json]
        [--json FILE]

The venv needs timm, torch, torchvision, keras (with a backend), opencv-python-headless, Pillow
13.0.0 and NumPy (scripts/requirements-protocols.txt names the versions checked). --sha256 FILE
adds the MLPerf presets' digests of the sample to FILE (the others' digests there are kept, and a
digest that changes is reported), for tests/presets/opencv_presets.rs and the mixed-pass unit
test. Run by hand; CI never installs these packages.
"""

import argparse
import copy
import glob
import hashlib
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np

warnings.filterwarnings("ignore")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# torchvision (and timm, which imports it) before keras: the other order aborts in LLVM's option
# registry ("Option 'bitcode-mdindex-threshold' registered more than once") with TensorFlow 2.21.
import torch  # noqa: E402,I001
import torchvision  # noqa: E402
import timm  # noqa: E402
from timm.data.transforms_factory import transforms_imagenet_eval  # noqa: E402
import cv2  # noqa: E402
import keras  # noqa: E402
import PIL  # noqa: E402
from PIL import Image  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLE = os.path.join(REPO, "..", "shared", "imagenet-sample")
CORPUS = os.path.join(REPO, "tests", "jpeg-corpus")
BASE_MANIFEST = os.path.join(REPO, "manifests", "coral__mobilenet_v2_1.0_224_quant.json")

MEANS = {
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "half": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
    "clip": ((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)),
}

# (crop_mode, img_size, crop_pct, interpolation, mean/std): every interpolation timm's configs
# use, the crop_pcts and sizes they use most, a crop_pct above 1 (padding on both modes), and
# the three mean/std families.
TIMM = [
    ("squash", 224, 0.875, "bicubic", "imagenet"),
    ("squash", 224, 1.0, "bilinear", "half"),
    ("squash", 256, 0.95, "bicubic", "clip"),
    ("squash", 288, 1.0, "bicubic", "imagenet"),
    ("squash", 384, 1.0, "bicubic", "half"),
    ("squash", 224, 0.9, "nearest", "imagenet"),
    ("squash", 224, 1.15, "lanczos", "imagenet"),
    ("border", 224, 0.875, "bicubic", "imagenet"),
    ("border", 224, 1.0, "bicubic", "half"),
    ("border", 256, 0.95, "bilinear", "clip"),
    ("border", 288, 1.0, "bicubic", "imagenet"),
    ("border", 384, 1.0, "lanczos", "imagenet"),
    ("border", 224, 0.9, "nearest", "clip"),
    ("border", 224, 1.15, "box", "imagenet"),
]

# (size, interpolation, preprocess_input mode): Keras's default NEAREST and every other filter
# load_img takes.
KERAS = [
    (224, "nearest", "caffe"),
    (224, "bilinear", "caffe"),
    (299, "bicubic", "tf"),
    (224, "lanczos", "torch"),
    (224, "box", "tf"),
    (331, "hamming", "caffe"),
    (299, "nearest", "tf"),
]
KERAS_RECIPE = {
    "caffe": (1.0, [103.939, 116.779, 123.68], [1.0, 1.0, 1.0], "bgr"),
    "tf": (127.5, [1.0, 1.0, 1.0], [1.0, 1.0, 1.0], "rgb"),
    "torch": (255.0, list(MEANS["imagenet"][0]), list(MEANS["imagenet"][1]), "rgb"),
}

# preset -> (dataset.py function, need_transpose): the presets' layouts (NCHW for pre_process_vgg
# as MLPerf's ONNX ResNet-50 takes it, NHWC for the others as the functions return by default).
MLPERF = {
    "mlperf-resnet50-pytorch": ("pre_process_imagenet_pytorch", False),
    "mlperf-tflite-tpu": ("pre_process_imagenet_tflite_tpu", False),
    "mlperf-resnet50": ("pre_process_vgg", True),
    "mlperf-mobilenet": ("pre_process_mobilenet", False),
}

# Pictures of awkward shapes (width, height): same size as the output, one pixel off, one pixel
# wide or high (timm's 'border' resizes some of those to nothing, which Pillow refuses), long.
SHAPES = [(224, 224), (225, 224), (224, 300), (300, 224), (299, 299), (331, 500), (1, 1),
          (1, 700), (700, 1), (512, 1), (1, 383), (3, 1000), (1000, 3), (257, 256), (40, 41),
          (2000, 20), (20, 2000), (600, 599)]


class Config:
    """One peer pipeline and the zoorepro recipe (or preset) that must reproduce it."""

    def __init__(self, name, reference, recipe=None, preset=None, decoder="pillow"):
        self.name, self.reference, self.recipe, self.preset = name, reference, recipe, preset
        self.decoder = decoder


def timm_config(mode, size, pct, interpolation, means):
    mean, std = MEANS[means]
    transform = transforms_imagenet_eval(img_size=size, crop_pct=pct, crop_mode=mode,
                                         interpolation=interpolation, mean=mean, std=std,
                                         use_prefetcher=False)
    scale_size = math.floor(size / pct)  # timm's own arithmetic
    name = f"timm-{mode}-{size}-{pct}-{interpolation}-{means}"
    recipe = {"name": name, "description": f"parity: timm crop_mode={mode!r}",
              "resize_mode": "squash-crop" if mode == "squash" else "fit-pad",
              "resize_size": scale_size, "crop_size": size, "filter": interpolation.upper(),
              "scale": 255.0, "mean": list(mean), "std": list(std), "channels": "rgb",
              "layout": "nchw"}
    if mode == "border":
        recipe["fill"] = [round(255 * v) for v in mean]

    def reference(path):
        try:
            img = Image.open(path)
            img = img.convert("RGB")  # timm's ImageDataset with input_img_mode='RGB'
        except Exception:  # noqa: BLE001  (a refusal is an outcome to compare)
            return None
        try:
            return transform(img).numpy()
        except ValueError as e:  # Pillow's resize to nothing: refused by the pipeline
            return None if "must be > 0" in str(e) else e
    return Config(name, reference, recipe=recipe)


def keras_config(size, interpolation, mode):
    from keras.applications import densenet, inception_v3, resnet50
    preprocess = {"caffe": resnet50.preprocess_input, "tf": inception_v3.preprocess_input,
                  "torch": densenet.preprocess_input}[mode]
    scale, mean, std, channels = KERAS_RECIPE[mode]
    name = f"keras-{mode}-{size}-{interpolation}-keep-aspect"
    recipe = {"name": name, "description": "parity: keras load_img(keep_aspect_ratio=True)",
              "resize_mode": "aspect-crop", "resize_size": size, "crop_size": size,
              "filter": interpolation.upper(), "scale": scale, "mean": mean, "std": std,
              "channels": channels, "layout": "nhwc"}

    def reference(path):
        try:
            img = keras.utils.load_img(path, target_size=(size, size),
                                       interpolation=interpolation, keep_aspect_ratio=True)
        except Exception:  # noqa: BLE001
            return None
        x = keras.utils.img_to_array(img)
        return np.ascontiguousarray(preprocess(x[None])[0], dtype=np.float32)
    return Config(name, reference, recipe=recipe)


def mlperf_config(dataset, preset):
    function, need_transpose = MLPERF[preset]
    pre_process = getattr(dataset, function)

    def reference(path):
        try:
            img = cv2.imread(path)
        except cv2.error:
            return None
        if img is None:
            return None
        out = pre_process(img, dims=[224, 224, 3], need_transpose=need_transpose)
        return np.ascontiguousarray(out, dtype=np.float32)
    return Config(preset, reference, preset=preset, decoder="opencv")


def import_mlperf(path):
    """dataset.py of a mlcommons/inference checkout (its root, or the folder holding it)."""
    for folder in (os.path.join(path, "vision", "classification_and_detection", "python"), path):
        if os.path.isfile(os.path.join(folder, "dataset.py")):
            sys.path.insert(0, folder)
            import dataset
            return dataset, folder
    sys.exit(f"parity_geometry.py: no dataset.py under {path} (give --mlperf a checkout of "
             "mlcommons/inference)")


def scratch_home(tmp, configs):
    """A --home with one manifest per (crop size, layout) holding the configs' recipes."""
    with open(BASE_MANIFEST) as f:
        base = json.load(f)
    groups = {}
    for config in configs:
        if config.recipe:
            r = config.recipe
            groups.setdefault((r["crop_size"], r["layout"]), []).append(config)
    os.makedirs(os.path.join(tmp, "home", "manifests"))
    for (size, layout), members in groups.items():
        manifest = copy.deepcopy(base)
        manifest["id"] = f"parity/geometry-{layout}-{size}"
        manifest["input"]["layout"] = layout
        manifest["input"]["shape"] = (["N", 3, size, size] if layout == "nchw"
                                      else ["N", size, size, 3])
        manifest["recipes"] = [c.recipe for c in members]
        manifest["default_recipe"] = members[0].recipe["name"]
        manifest["references"] = []
        for c in members:
            c.model = manifest["id"]
        with open(os.path.join(tmp, "home", "manifests", f"{layout}-{size}.json"), "w") as f:
            json.dump(manifest, f, indent=1)
    return os.path.join(tmp, "home")


def zoorepro(binary, config, home, paths):
    """zoorepro's tensors of `paths` (one call), or None with the exit status and last line."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "t.npy")
        if config.preset:
            cmd = [binary, "preprocess", "--recipe", config.preset]
        else:
            cmd = [binary, "preprocess", "--recipe", config.name, "--model", config.model,
                   "--home", home]
        run = subprocess.run(cmd + ["--out", out, *paths], capture_output=True, text=True)
        if run.returncode != 0:
            return None, run.returncode, run.stderr.strip().splitlines()[-1:]
        return np.load(out), 0, []


def compare(binary, config, home, files, jobs, rng, chunk=32):
    """The peer's and zoorepro's outcome for every file of one group under one config: the
    files the peer accepts in calls of `chunk` files in a shuffled order (nothing may depend on
    the image before), the ones it refuses one call each."""
    refs = {}
    for path in files:
        ref = config.reference(path)
        if isinstance(ref, Exception):
            raise ref
        refs[path] = ref
    accepted = [p for p in files if refs[p] is not None]
    rng.shuffle(accepted)
    report = {"files": len(files), "peer_accepts": len(accepted), "identical": 0,
              "one_sided": [], "differ": [], "max_abs_diff": 0.0}
    ours = {}
    one = lambda path: (path, zoorepro(binary, config, home, [path]))  # noqa: E731
    suspects = []
    for start in range(0, len(accepted), chunk):
        part = accepted[start:start + chunk]
        tensors, _, _ = zoorepro(binary, config, home, part)
        if tensors is None:
            suspects += part
        else:
            ours.update(zip(part, tensors))
    refused = [p for p in files if refs[p] is None]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for path, (tensors, code, why) in pool.map(one, suspects + refused):
            if refs[path] is not None:
                if tensors is None:
                    report["one_sided"].append((path, "peer accepts, zoorepro refuses", code, why))
                else:
                    ours[path] = tensors[0]
            elif tensors is not None:
                report["one_sided"].append((path, "peer refuses, zoorepro accepts", 0, []))
            elif code != 2:
                report["one_sided"].append((path, f"zoorepro exit {code}, not 2", code, why))
    for path, mine in ours.items():
        want = refs[path]
        if mine.shape != want.shape:
            report["differ"].append((path, "shape", list(mine.shape), list(want.shape)))
            continue
        diff = float(np.abs(mine.astype(np.float64) - want).max()) if want.size else 0.0
        report["max_abs_diff"] = max(report["max_abs_diff"], diff)
        if mine.tobytes() == want.tobytes():
            report["identical"] += 1
        else:
            report["differ"].append((path, diff, int((mine != want).sum())))
    return report, refs


def write_shapes(folder):
    """JPEGs of the awkward shapes: a gradient with noise, 4:4:4, quality 95."""
    rng = np.random.RandomState(7)
    paths = []
    for w, h in SHAPES:
        y, x = np.mgrid[0:h, 0:w]
        img = np.stack([(x * 255 // max(w - 1, 1)), (y * 255 // max(h - 1, 1)),
                        ((x + y) * 7) % 256], axis=-1).astype(np.int32)
        img = np.clip(img + rng.randint(-20, 21, img.shape), 0, 255).astype(np.uint8)
        path = os.path.join(folder, f"shape-{w}x{h}.jpg")
        Image.fromarray(img).save(path, quality=95, subsampling=0)
        paths.append(path)
    return paths


def record_digests(path, digests, commit):
    """Adds the MLPerf presets' sample digests to the JSON file at `path`, keeping the rest."""
    data = {"digests": {}}
    if os.path.exists(path):
        with open(path) as f:
            data = json.load(f)
    changed = 0
    for preset, files in digests.items():
        old = data["digests"].get(preset, {})
        changed += sum(1 for name, d in files.items() if name in old and old[name] != d)
        data["digests"][preset] = files
    data.update({"opencv": cv2.__version__, "pillow": PIL.__version__,
                 "torch": torch.__version__.split("+")[0],
                 "torchvision": torchvision.__version__.split("+")[0],
                 "mlperf_inference_commit": commit})
    with open(path, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")
    return changed


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=os.path.join(REPO, "target", "release", "zoorepro"))
    ap.add_argument("--mlperf", required=True, help="a checkout of mlcommons/inference")
    ap.add_argument("--groups", default="sample,corpus,made,shapes")
    ap.add_argument("--files", nargs="*", help="globs (instead of the groups)")
    ap.add_argument("--only", help="run the configs whose name contains this")
    ap.add_argument("--jobs", type=int, default=2, help="zoorepro calls at once (refusals)")
    ap.add_argument("--seed", type=int, help="the shuffle's seed (default: a random one)")
    ap.add_argument("--chunk", type=int, default=32, help="files per zoorepro call (1: alone)")
    ap.add_argument("--sha256", help="add the MLPerf presets' sample digests to this JSON file")
    ap.add_argument("--json", help="write the full report to this JSON file")
    args = ap.parse_args()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    dataset, mlperf_dir = import_mlperf(args.mlperf)
    commit = subprocess.run(["git", "-C", mlperf_dir, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip() or "?"
    print(f"timm {timm.__version__}, torch {torch.__version__}, torchvision "
          f"{torchvision.__version__}, keras {keras.__version__}, opencv {cv2.__version__}, "
          f"Pillow {PIL.__version__}, numpy {np.__version__}, MLPerf dataset.py at {commit}")

    seed = args.seed if args.seed is not None else random.randrange(1 << 32)
    print(f"shuffle seed {seed}")
    rng = random.Random(seed)
    configs = ([timm_config(*c) for c in TIMM] + [keras_config(*c) for c in KERAS]
               + [mlperf_config(dataset, p) for p in MLPERF])
    if args.only:
        configs = [c for c in configs if args.only in c.name]
    sample = sorted(glob.glob(os.path.join(SAMPLE, "*", "*.JPEG")))
    bad, rows, full, digests = 0, [], {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        if args.files:
            groups = {"files": sorted(f for g in args.files for f in glob.glob(g))}
        else:
            known = {"sample": lambda: sample,
                     "corpus": lambda: sorted(glob.glob(os.path.join(CORPUS, "files", "*"))),
                     "made": lambda: sorted(glob.glob(os.path.join(CORPUS, "made", "*"))),
                     "shapes": lambda: write_shapes(tmp)}
            groups = {g: known[g]() for g in args.groups.split(",")}
        home = scratch_home(tmp, configs)
        for config in configs:
            for group, files in groups.items():
                report, refs = compare(args.bin, config, home, files, args.jobs, rng, args.chunk)
                full[f"{config.name}/{group}"] = report
                found = report["one_sided"] + report["differ"]
                bad += len(found)
                rows.append((config.name, group, report))
                print(f"{config.name:44} {group:6} files {report['files']:5}  peer accepts "
                      f"{report['peer_accepts']:5}  identical {report['identical']:5}  differing "
                      f"{len(report['differ']):3}  one-sided {len(report['one_sided']):3}  "
                      f"max abs diff {report['max_abs_diff']:.3g}", flush=True)
                for row in found:
                    print("   ", *row)
                if config.preset and group == "sample":
                    digests[config.preset] = {
                        os.path.relpath(p, SAMPLE): hashlib.sha256(refs[p].tobytes()).hexdigest()
                        for p in files if refs[p] is not None}
    print("\n| config | group | files | peer accepts | identical | differing | one-sided | max abs diff |")
    print("|---|---|---|---|---|---|---|---|")
    for name, group, r in rows:
        print(f"| `{name}` | {group} | {r['files']} | {r['peer_accepts']} | {r['identical']} | "
              f"{len(r['differ'])} | {len(r['one_sided'])} | {r['max_abs_diff']:.3g} |")
    if args.sha256 and digests:
        changed = record_digests(args.sha256, digests, commit)
        print(f"digests of {', '.join(sorted(digests))} written to {args.sha256}"
              + (f"; {changed} changed" if changed else ""))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(full, f, indent=1)
    print("OK: no disagreement" if bad == 0 else f"{bad} disagreements")
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
