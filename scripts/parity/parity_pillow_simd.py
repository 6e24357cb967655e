#!/usr/bin/env python3
"""Parity of `zoorepro preprocess --pillow-compat simd` with the real Pillow-SIMD 12.1.1.post0.

Run with the Python of a venv where pillow-simd is built from its sdist (see
scripts/requirements-protocols.txt); `import PIL` there is Pillow-SIMD. For every image (default:
the shared ImageNet sample) and every Pillow recipe -- the presets (scripts/parity/parity.py's
table), the Pillow recipes of the shipped manifests, and a sweep of the six filters over every
geometry (a scratch manifest under a scratch --home) -- this computes the tensor as the
Pillow pipeline does it (Image.open().convert('RGB'), resize, crop, NumPy float32
normalisation) with Pillow-SIMD, runs `BIN preprocess ... --pillow-compat simd`, and compares the
float32 bytes (max abs diff must be exactly 0).

    /work/venv-simd/bin/python scripts/parity/parity_pillow_simd.py [--bin target/release/zoorepro]
        [IMAGE|DIR ...] [--decode-python /path/to/pillow13/python] [--sha256 FILE]

--decode-python PY also decodes every image with another Pillow (the oracle's Pillow 13, whose
decode zoorepro reproduces) and counts the images whose RGB pixels differ from Pillow-SIMD's:
Pillow-SIMD decodes with the system libjpeg-turbo it was built against; --decoded-by PY takes
the decoded pixels from that other Pillow, so that only the resize and normalisation are
Pillow-SIMD's (the arithmetic alone, on files the decoders disagree on). With --decode-only that
is all it does, and files either refuses are allowed (the JPEG corpus):
    ... parity_pillow_simd.py --decode-only --decode-python .venv/bin/python tests/jpeg-corpus/files
--sha256 FILE writes the sha256 of Pillow-SIMD's tensor of each sample image for every preset
(for tests/presets/pillow_simd.rs). Exit status 0 only when every tensor is identical.
"""
import argparse
import copy
import glob
import hashlib
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import PIL
from PIL import Image, features

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import parity  # noqa: E402  (the Pillow + NumPy reference of every preset)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLE = os.path.join(REPO, "..", "shared", "imagenet-sample")
EXPECTED_VERSION = "12.1.1.post0"
REFUSED = "refused"
SWEEP_MANIFEST = "parity/pillow-simd-filters"
FILTER_NAMES = ["NEAREST", "BOX", "BILINEAR", "HAMMING", "BICUBIC", "LANCZOS"]


def center_crop_or_pad(arr, crop, fill):
    """timm's center_crop_or_pad on an HWC uint8 array: pad (crop - len) // 2 before with
    `fill`, then crop at int(round((len - crop) / 2))."""
    h, w = arr.shape[:2]
    if crop > w or crop > h:
        left, top = max(crop - w, 0) // 2, max(crop - h, 0) // 2
        padded = np.empty((max(h, crop), max(w, crop), 3), np.uint8)
        padded[:] = fill
        padded[top:top + h, left:left + w] = arr
        arr, (h, w) = padded, padded.shape[:2]
    top, left = int(round((h - crop) / 2.0)), int(round((w - crop) / 2.0))
    return arr[top:top + crop, left:left + crop]


def other_geometry(img, r, filt, crop):
    """timm's crop_mode='squash' and 'border', Keras's keep_aspect_ratio (a recipe's
    resize_mode squash-crop, fit-pad, aspect-crop) with this Pillow's resize."""
    size = int(r["resize_size"])
    if r["resize_mode"] == "squash-crop":
        img = img.resize((size, size), filt) if img.size != (size, size) else img
        return parity.torchvision_center_crop(np.asarray(img), crop)
    w, h = img.size
    if r["resize_mode"] == "fit-pad":
        ratio = max(h / size, w / size)
        new = (round(w / ratio), round(h / ratio))
        img = img.resize(new, filt) if new != img.size else img
        return center_crop_or_pad(np.asarray(img), crop, r.get("fill", [0, 0, 0]))
    side_h, side_w = min(h, w * crop // crop), min(w, h * crop // crop)
    box = [(w - side_w) // 2, (h - side_h) // 2, (w - side_w) // 2 + side_w,
           (h - side_h) // 2 + side_h]
    return np.asarray(img.resize((crop, crop), filt, box=box) if img.size != (crop, crop) else img)


def recipe_tensor(img, r):
    """A manifest recipe (zoorepro's recipe fields) applied to an RGB PIL image."""
    filt = parity.FILTERS[r["filter"]]
    crop = int(r["crop_size"])
    if r["resize_mode"] == "shorter-side":
        img = parity.torchvision_resize(img, int(r["resize_size"]), filt)
        arr = parity.torchvision_center_crop(np.asarray(img), crop)
    elif r["resize_mode"] != "squash":
        arr = other_geometry(img, r, filt, crop)
    else:
        arr = np.asarray(img.resize((crop, crop), filt) if img.size != (crop, crop) else img)
    x = arr.astype(np.float32)
    if r.get("scale", 1.0) != 1.0:
        x = x / np.float32(r["scale"])
    x = (x - np.asarray(r["mean"], np.float32)) / np.asarray(r["std"], np.float32)
    if r.get("channels", "rgb") == "bgr":
        x = x[..., ::-1]
    if r.get("layout", "nchw") == "nchw":
        x = x.transpose(2, 0, 1)
    return np.ascontiguousarray(x, dtype=np.float32)


def manifest_recipes():
    """(manifest id, recipe) for every Pillow recipe the shipped manifests define inline."""
    out = []
    for path in sorted(glob.glob(os.path.join(REPO, "manifests", "*.json"))):
        with open(path) as f:
            manifest = json.load(f)
        for r in manifest.get("recipes", []):
            # A name refers to a preset, checked above.
            if isinstance(r, dict) and r.get("library", "pillow") == "pillow":
                out.append((manifest["id"], r))
    return out


def sweep_home(tmp):
    """A scratch --home whose one manifest has a recipe per filter and geometry."""
    base = os.path.join(REPO, "manifests", "coral__mobilenet_v2_1.0_224_quant.json")
    with open(base) as f:
        manifest = json.load(f)
    manifest = copy.deepcopy(manifest)
    manifest["id"] = SWEEP_MANIFEST
    manifest["input"]["layout"] = "nchw"
    manifest["input"]["shape"] = ["N", 3, 224, 224]
    recipes = []
    for name in FILTER_NAMES:
        for mode, resize in [("shorter-side", 256), ("shorter-side", 224), ("squash", 224),
                             ("squash-crop", 248), ("fit-pad", 256), ("aspect-crop", 224)]:
            recipes.append({
                "name": f"{name.lower()}-{mode}-{resize}",
                "description": f"parity sweep: {name}, {mode} {resize}, crop 224",
                "resize_mode": mode, "resize_size": resize, "crop_size": 224, "filter": name,
                "scale": 255.0, "mean": list(parity.IMAGENET_MEAN),
                "std": list(parity.IMAGENET_STD), "channels": "rgb", "layout": "nchw"})
            if mode == "fit-pad":
                recipes[-1]["fill"] = [124, 116, 104]
    manifest["recipes"] = recipes
    manifest["default_recipe"] = recipes[0]["name"]
    manifest["references"] = []
    home = os.path.join(tmp, "home")
    os.makedirs(os.path.join(home, "manifests"))
    with open(os.path.join(home, "manifests", "sweep.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    return home, [(SWEEP_MANIFEST, r) for r in recipes]


def zoorepro(binary, images, out, recipe, model=None, home=None, compat="simd"):
    cmd = [binary, "preprocess", "--recipe", recipe, "--pillow-compat", compat, "--out", out]
    if model:
        cmd += ["--model", model]
    if home:
        cmd += ["--home", home]
    run = subprocess.run(cmd + images, capture_output=True, text=True)
    if run.returncode != 0:
        return None, run.stderr.strip()
    return np.load(out), ""


def compare(label, got, want, images):
    if got.shape != want.shape or got.dtype != np.float32:
        print(f"{label:44} shape/dtype mismatch: zoorepro {got.shape} {got.dtype}, "
              f"pillow-simd {want.shape}")
        return False
    diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
    max_diff = float(diff.max()) if diff.size else 0.0
    identical = sum(g.tobytes() == w.tobytes() for g, w in zip(got, want))
    print(f"{label:44} images={len(images)} identical={identical} max_abs_diff={max_diff:.3g}")
    if identical != len(images):
        worst = int(np.argmax(diff.reshape(len(images), -1).max(axis=1)))
        print(f"{'':44}   largest difference in {images[worst]}")
    return identical == len(images)


def others(binary, images, out, name, want):
    """How far zoorepro's Pillow 12 and 13 tensors are from Pillow-SIMD's: what the flag is for."""
    text = []
    for compat in ["12", "13"]:
        got, _ = zoorepro(binary, images, out, name, compat=compat)
        differ = sum(g.tobytes() != w.tobytes() for g, w in zip(got, want))
        diff = float(np.abs(got.astype(np.float64) - want.astype(np.float64)).max())
        text.append(f"--pillow-compat {compat} differs in {differ} images, max {diff:.3g}")
    return "; ".join(text)


def decode_check(python, images, decoded):
    """How many images another Pillow decodes to other RGB pixels than this one."""
    run = subprocess.run([python, os.path.abspath(__file__), "--decode-worker"],
                         input="\n".join(images), capture_output=True, text=True, check=True)
    other = run.stdout.split()
    version = subprocess.run([python, "-c", "import PIL; print(PIL.__version__)"],
                             capture_output=True, text=True).stdout.strip()
    both = [p for p, h in zip(images, other) if h != REFUSED and decoded[p] != REFUSED]
    differ = [p for p, h in zip(images, other) if h != decoded[p]]
    print(f"decode: Pillow {version} ({python}) and Pillow-SIMD accept {len(both)} of "
          f"{len(images)} files both; they disagree on {len(differ)}:")
    for p, h in zip(images, other):
        if h != decoded[p]:
            kind = ("pixels differ" if p in both else
                    "only Pillow-SIMD accepts" if h == REFUSED else f"only Pillow {version} accepts")
            print(f"    {kind}: {p}")
    return differ


def decode_hash(path):
    """The sha256 of a file's RGB pixels as this Pillow decodes it, or REFUSED."""
    try:
        with Image.open(path) as im:
            return hashlib.sha256(np.asarray(im.convert("RGB")).tobytes()).hexdigest()
    except Exception:  # noqa: BLE001 - any refusal counts as one
        return REFUSED


def decode_worker(save_dir):
    """Answer each path on stdin with decode_hash; with save_dir, also save the pixels there."""
    for i, path in enumerate(sys.stdin.read().splitlines()):
        print(decode_hash(path))
        if save_dir:
            with Image.open(path) as im:
                np.save(os.path.join(save_dir, f"{i}.npy"), np.asarray(im.convert("RGB")))


def decoded_by(python, images, tmp):
    """The RGB pictures another Pillow decodes `images` to, as Pillow-SIMD images."""
    subprocess.run([python, os.path.abspath(__file__), "--decode-worker", "--save-to", tmp],
                   input="\n".join(images), capture_output=True, text=True, check=True)
    return {p: Image.fromarray(np.load(os.path.join(tmp, f"{i}.npy")))
            for i, p in enumerate(images)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("images", nargs="*", help="image files or folders [the shared sample]")
    ap.add_argument("--bin", default=os.path.join(REPO, "target", "release", "zoorepro"))
    ap.add_argument("--decode-python", help="another Pillow's Python: compare decoded pixels")
    ap.add_argument("--sha256", help="write Pillow-SIMD's tensor digests of the sample here")
    ap.add_argument("--decode-only", action="store_true",
                    help="with --decode-python: only compare the decoded pixels (files either "
                    "Pillow refuses allowed, e.g. the JPEG corpus)")
    ap.add_argument("--decoded-by", metavar="PY",
                    help="take the decoded pixels from another Pillow's Python (the oracle's "
                    "Pillow 13, whose decode zoorepro reproduces) and only Pillow-SIMD's "
                    "resize: checks the arithmetic alone, on files the decoders disagree on")
    ap.add_argument("--decode-worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--save-to", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.decode_worker:
        return decode_worker(args.save_to)
    if args.sha256 and args.decoded_by:
        sys.exit("--sha256 records Pillow-SIMD's own tensors: not with --decoded-by")

    if PIL.__version__ != EXPECTED_VERSION:
        sys.exit(f"this is Pillow {PIL.__version__}, not Pillow-SIMD {EXPECTED_VERSION}")
    images = parity.list_images(args.images or [SAMPLE])
    if not images and not args.decode_only:
        sys.exit("no images found")
    print(f"Pillow-SIMD {PIL.__version__} (libjpeg-turbo {features.version('libjpeg_turbo')}), "
          f"NumPy {np.__version__}, {len(images)} images")
    if args.decode_only:
        if not args.decode_python:
            sys.exit("--decode-only needs --decode-python")
        # Every file, whatever its name: fuzz corpora have no extensions.
        images = sorted(f for d in args.images for f in
                        (glob.glob(os.path.join(d, "*")) if os.path.isdir(d) else [d]))
        print(f"--decode-only: {len(images)} files")
        decode_check(args.decode_python, images, {p: decode_hash(p) for p in images})
        return 0
    decoded = {}
    rgb = {}
    for p in images:
        img = parity.load_rgb(p)
        rgb[p] = img
        decoded[p] = hashlib.sha256(np.asarray(img).tobytes()).hexdigest()

    ok = True
    digests = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "t.npy")
        if args.decoded_by:
            rgb = decoded_by(args.decoded_by, images, tmp)
            print(f"decoded by {args.decoded_by}, resized by Pillow-SIMD")
        for name in parity.PRESETS:
            want = np.stack([parity.preset_tensor_from_rgb(rgb[p], name) for p in images])
            got, err = zoorepro(args.bin, images, out, name)
            if got is None:
                print(f"{name:44} zoorepro failed: {err}")
                ok = False
                continue
            ok &= compare(name, got, want, images)
            print(f"{'':44}   (Pillow's own arithmetic: {others(args.bin, images, out, name, want)})")
            digests[name] = {os.path.relpath(p, SAMPLE): hashlib.sha256(t.tobytes()).hexdigest()
                             for p, t in zip(images, want)}
        home, sweep = sweep_home(tmp)
        for model, r in manifest_recipes() + sweep:
            want = np.stack([recipe_tensor(rgb[p], r) for p in images])
            got, err = zoorepro(args.bin, images, out, r["name"], model,
                                home if model == SWEEP_MANIFEST else None)
            label = f"{model}:{r['name']}"
            if got is None:
                print(f"{label:44} zoorepro failed: {err}")
                ok = False
                continue
            ok &= compare(label, got, want, images)
    if args.decode_python:
        decode_check(args.decode_python, images, decoded)
    if args.sha256:
        with open(args.sha256, "w") as f:
            json.dump({"pillow_simd": PIL.__version__, "digests": digests}, f, indent=1,
                      sort_keys=True)
            f.write("\n")
    print("all identical" if ok else "DIFFERENCES FOUND")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
