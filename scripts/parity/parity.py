#!/usr/bin/env python3
"""Compare zoorepro's preprocessing with the Python pipelines it reproduces (Pillow + NumPy only).

For every preset recipe (the table below mirrors src/image/recipe.rs) this computes the reference
tensor of each image the way the framework named by the preset does it:

  torchvision  Image.open().convert('RGB'); Resize(size) (short side -> size, long side
               int(size * long / short), Pillow BILINEAR; BICUBIC for the timm-bicubic presets);
               CenterCrop(crop), which zero-pads a side smaller than the crop ((c - n) // 2
               before, (c - n + 1) // 2 after) and then starts at int(round((n - c) / 2.0)); ToTensor (/255 in float32); Normalize
               ((x - mean) / std in float32); CHW.
  keras        load_img: convert('RGB'), resize((s, s), NEAREST) when the size differs;
               img_to_array (float32); preprocess_input in 'caffe' (RGB->BGR, minus the BGR
               means), 'tf' (x /= 127.5; x -= 1) or 'torch' (/255, minus mean, over std) mode; HWC.

then runs `BIN preprocess --recipe NAME --pillow-compat N --out F.npy IMAGE...` and compares
the arrays. Pillow's major version picks --pillow-compat (13 for Pillow >= 13, else 12: the
resize pass order changed in 13) unless --pillow-compat is given.

Prints, per recipe: images, identical samples, max abs diff. Exits 1 if any value differs.

With --oracle-results (shared/oracle/results.json) and --models-json (shared/models/models.json)
it also checks this script's own arithmetic against the oracle's input_sha256 values.
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import PIL
from PIL import Image

FILTERS = {
    "NEAREST": Image.NEAREST, "BOX": Image.BOX, "BILINEAR": Image.BILINEAR,
    "HAMMING": Image.HAMMING, "BICUBIC": Image.BICUBIC, "LANCZOS": Image.LANCZOS,
}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)

# Mirror of src/image/recipe.rs presets(): name -> how the framework computes it.
PRESETS = {
    "torchvision": {"family": "torchvision", "resize": 256, "crop": 224},
    "torchvision-inception-seed": {"family": "torchvision", "resize": 256, "crop": 299},
    "torchvision-inception": {"family": "torchvision", "resize": 342, "crop": 299},
    "timm-bicubic": {"family": "torchvision", "resize": 256, "crop": 224, "filter": Image.BICUBIC},
    "timm-bicubic-299": {"family": "torchvision", "resize": 341, "crop": 299, "filter": Image.BICUBIC},
    "keras-caffe": {"family": "keras", "size": 224, "mode": "caffe"},
    "keras-torch": {"family": "keras", "size": 224, "mode": "torch"},
    "keras-tf": {"family": "keras", "size": 299, "mode": "tf"},
    "keras-tf-224": {"family": "keras", "size": 224, "mode": "tf"},
    "keras-tf-331": {"family": "keras", "size": 331, "mode": "tf"},
}


def load_rgb(path):
    with Image.open(path) as im:
        return im.convert("RGB")


def torchvision_resize(img, size, resample=Image.BILINEAR):
    w, h = img.size
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = size, int(size * long / short)
    new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
    return img.resize((new_w, new_h), resample)


def torchvision_center_crop(arr, crop):
    """torchvision.transforms.functional.center_crop on an HWC uint8 array."""
    h, w = arr.shape[:2]
    if crop > w or crop > h:
        pad_left = (crop - w) // 2 if crop > w else 0
        pad_top = (crop - h) // 2 if crop > h else 0
        pad_right = (crop - w + 1) // 2 if crop > w else 0
        pad_bottom = (crop - h + 1) // 2 if crop > h else 0
        arr = np.pad(arr, ((pad_top, pad_bottom), (pad_left, pad_right), (0, 0)))
        h, w = arr.shape[:2]
        if (h, w) == (crop, crop):
            return arr
    top = int(round((h - crop) / 2.0))
    left = int(round((w - crop) / 2.0))
    return arr[top:top + crop, left:left + crop]


def torchvision_tensor(img, p):
    """The torchvision preset `p` applied to an RGB PIL image."""
    img = torchvision_resize(img, p["resize"], p.get("filter", Image.BILINEAR))
    arr = torchvision_center_crop(np.asarray(img), p["crop"])
    x = arr.astype(np.float32) / np.float32(255)                      # ToTensor
    x = (x - np.asarray(IMAGENET_MEAN, np.float32)) / np.asarray(IMAGENET_STD, np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1))


def keras_tensor(img, p):
    """The Keras preset `p` applied to an RGB PIL image."""
    size = (p["size"], p["size"])
    if img.size != size:
        img = img.resize(size, Image.NEAREST)
    x = np.asarray(img, dtype=np.float32).copy()                      # img_to_array
    mode = p["mode"]
    # preprocess_input works in place on float32 with Python-float scalars: float32 arithmetic.
    if mode == "tf":
        x /= np.float32(127.5)
        x -= np.float32(1.0)
        return x
    if mode == "torch":
        x /= np.float32(255.0)
        mean, std = IMAGENET_MEAN, IMAGENET_STD
    else:  # caffe
        x = x[..., ::-1].copy()
        mean, std = CAFFE_MEAN_BGR, None
    for c in range(3):
        x[..., c] -= np.float32(mean[c])
        if std is not None:
            x[..., c] /= np.float32(std[c])
    return x


def preset_tensor_from_rgb(img, name):
    """Preset `name` applied to an already decoded image (`load_rgb`'s result)."""
    p = PRESETS[name]
    return torchvision_tensor(img, p) if p["family"] == "torchvision" else keras_tensor(img, p)


def preset_tensor(path, name):
    return preset_tensor_from_rgb(load_rgb(path), name)


def oracle_tensor(path, r):
    """shared/oracle/reference_eval.py's preprocess(), for models.json recipes."""
    img = load_rgb(path)
    filt = FILTERS[r["filter"]]
    crop = int(r["crop_size"])
    if r["resize_mode"] == "shorter_side":
        img = torchvision_resize(img, int(r["resize_size"]), filt)
        arr = torchvision_center_crop(np.asarray(img), crop)
    else:
        arr = np.asarray(img.resize((crop, crop), filt))
    x = arr.astype(np.float32)
    if r["divide_by_255"]:
        x = x / np.float32(255.0)
    x = (x - np.asarray(r["mean"], np.float32)) / np.asarray(r["std"], np.float32)
    if r.get("channel_order", "RGB") == "BGR":
        x = x[..., ::-1]
    if r["layout"] == "NCHW":
        x = x.transpose(2, 0, 1)
    return np.ascontiguousarray(x, dtype=np.float32)


def list_images(paths):
    out = []
    for p in paths:
        if os.path.isdir(p):
            found = []
            for root, _, files in os.walk(p):
                found += [os.path.join(root, f) for f in files
                          if f.lower().endswith((".jpeg", ".jpg", ".png"))]
            out += sorted(found)
        else:
            out.append(p)
    return out


def check_oracle(models_json, results_json, root):
    with open(models_json) as f:
        models = {m["id"]: m for m in json.load(f)["models"]}
    with open(results_json) as f:
        results = json.load(f)
    bad = 0
    for m in results["models"]:
        r = models[m["id"]]["preprocess"]
        same = sum(
            hashlib.sha256(oracle_tensor(os.path.join(root, e["file"]), r).tobytes()).hexdigest()
            == e["input_sha256"]
            for e in m["per_image"])
        n = len(m["per_image"])
        bad += n - same
        print("oracle self-check %-40s images=%d identical_sha256=%d" % (m["id"], n, same))
    return bad == 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("images", nargs="+", help="image files or folders (searched recursively)")
    ap.add_argument("--bin", required=True, help="the zoorepro binary")
    ap.add_argument("--recipe", action="append", choices=sorted(PRESETS),
                    help="preset(s) to check (default: all)")
    ap.add_argument("--pillow-compat", choices=["12", "13"],
                    help="pass this to zoorepro [default: from this Pillow's major version]")
    ap.add_argument("--models-json", help="shared/models/models.json, for --oracle-results")
    ap.add_argument("--oracle-results", help="shared/oracle/results.json: also check this "
                    "script's arithmetic against the oracle's input_sha256 values; images are "
                    "looked up relative to the first folder given")
    args = ap.parse_args()

    major = int(PIL.__version__.split(".")[0])
    compat = args.pillow_compat or ("13" if major >= 13 else "12")
    images = list_images(args.images)
    if not images:
        sys.exit("no images found")
    print("Pillow %s, NumPy %s, --pillow-compat %s, %d images"
          % (PIL.__version__, np.__version__, compat, len(images)))

    ok = True
    if args.oracle_results:
        if not args.models_json:
            sys.exit("--oracle-results needs --models-json")
        ok &= check_oracle(args.models_json, args.oracle_results, args.images[0])

    recipes = args.recipe or list(PRESETS)
    with tempfile.TemporaryDirectory() as tmp:
        for name in recipes:
            out = os.path.join(tmp, name + ".npy")
            cmd = [args.bin, "preprocess", "--recipe", name, "--pillow-compat", compat,
                   "--out", out] + images
            run = subprocess.run(cmd, capture_output=True, text=True)
            if run.returncode != 0:
                print("%-28s zoorepro failed (exit %d): %s"
                      % (name, run.returncode, run.stderr.strip()))
                ok = False
                continue
            got = np.load(out)
            want = np.stack([preset_tensor(p, name) for p in images])
            if got.shape != want.shape or got.dtype != np.float32:
                print("%-28s shape/dtype mismatch: zoorepro %s %s, reference %s float32"
                      % (name, got.shape, got.dtype, want.shape))
                ok = False
                continue
            diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
            max_diff = float(diff.max()) if diff.size else 0.0
            identical = sum(np.array_equal(g.view(np.uint32), w.view(np.uint32))
                            for g, w in zip(got, want))
            print("%-28s images=%d identical=%d max_abs_diff=%.3g"
                  % (name, len(images), identical, max_diff))
            if identical != len(images):
                worst = int(np.argmax(diff.reshape(len(images), -1).max(axis=1)))
                print("%-28s   largest difference in %s" % ("", images[worst]))
                ok = False
    print("all identical" if ok else "DIFFERENCES FOUND")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
