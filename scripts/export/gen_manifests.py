#!/usr/bin/env python3
"""Writes manifests/*.json: the 34 models of benchmarking-keras-pytorch (every row of
../shared/reference/published_accuracy.csv, tied to the recipe it was measured with) and the four shared models
(../shared/models/models.json, referenced by the oracle's counts on the 100-image sample, and the bundled demo's 30).

Deterministic: re-running it on the same inputs rewrites identical files. Standard library only.
Usage: python3 scripts/export/gen_manifests.py [--shared ../shared]
"""
import argparse
import csv
import hashlib
import json
import os

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Keras preprocess_input family and input size of each benchmarking-keras-pytorch Keras model.
KERAS = {
    "densenet121": ("keras-torch", 224), "densenet169": ("keras-torch", 224), "densenet201": ("keras-torch", 224),
    "inceptionresnetv2": ("keras-tf", 299), "inceptionv3": ("keras-tf", 299), "xception": ("keras-tf", 299),
    "mobilenet": ("keras-tf-224", 224), "mobilenetV2": ("keras-tf-224", 224), "nasnetmobile": ("keras-tf-224", 224),
    "nasnetlarge": ("keras-tf-331", 331),
    "resnet50": ("keras-caffe", 224), "vgg16": ("keras-caffe", 224), "vgg19": ("keras-caffe", 224),
}
KERAS_CLASSES = {
    "densenet121": "DenseNet121", "densenet169": "DenseNet169", "densenet201": "DenseNet201",
    "inceptionresnetv2": "InceptionResNetV2", "inceptionv3": "InceptionV3", "xception": "Xception",
    "mobilenet": "MobileNet", "mobilenetV2": "MobileNetV2", "nasnetmobile": "NASNetMobile",
    "nasnetlarge": "NASNetLarge", "resnet50": "ResNet50", "vgg16": "VGG16", "vgg19": "VGG19",
}
TORCHVISION = ["alexnet", "densenet121", "densenet161", "densenet169", "densenet201", "inception_v3",
               "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "squeezenet1_0", "squeezenet1_1",
               "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn"]

# The torchvision weights whose timm pretrained config normalises otherwise than the timm-bicubic presets (ImageNet
# mean/std): their timm rows are tied to the recipe source naming timm's own config (docs/recipes.md), which is
# validate.py's default path exactly. inception_v3.tv_in1k has mean = std = (0.5, 0.5, 0.5).
TIMM_SOURCES = {"inception_v3": ("timm:inception_v3.tv_in1k", "mean = std = 0.5 as timm's config says, "
                                 "uint8 to float32, (x - 127.5) / 127.5 (the prefetcher)")}

SEED_NOTE = ("benchmarking-keras-pytorch README table (commit 74df938), measured by that project on the 50,000 "
             "validation images with {stack}")


def digest(names):
    """zoorepro's image_set_digest: a domain tag, then each byte-sorted name length-prefixed."""
    h = hashlib.sha256(b"zoorepro image set v2\0")
    for name in sorted((n.encode() for n in names)):
        h.update(len(name).to_bytes(8, "big") + name)
    return h.hexdigest()


def content_digest(files):
    """zoorepro's image_set_content_digest: a domain tag, then each byte-sorted name length-prefixed and followed
    by the sha256 of its file's bytes. `files` maps name -> path."""
    h = hashlib.sha256(b"zoorepro image set content v1\0")
    for name in sorted(files, key=lambda n: n.encode()):
        with open(files[name], "rb") as f:
            h.update(len(name.encode()).to_bytes(8, "big") + name.encode() + hashlib.sha256(f.read()).digest())
    return h.hexdigest()


def image_sets(shared):
    with open(os.path.join(REPO, "data", "labels", "val_ground_truth.tsv")) as f:
        full = [line.split("\t")[0] for line in f.read().splitlines()[1:] if line]
    assert len(full) == 50000
    def tree(root):
        return {f: os.path.join(root, d, f) for d in os.listdir(root) if os.path.isdir(os.path.join(root, d))
                for f in os.listdir(os.path.join(root, d))}
    sample = tree(os.path.join(shared, "imagenet-sample"))
    assert len(sample) == 100
    demo = tree(os.path.join(REPO, "demo"))
    # The full set's files are not here to hash: its references match by names and count only.
    return {
        "full": {"name": "ilsvrc2012-val", "images": 50000, "sha256": digest(full)},
        "sample": {"name": "shared-imagenet-sample-100", "images": 100, "sha256": digest(sample),
                   "content_sha256": content_digest(sample)},
        "demo": {"name": "zoorepro-demo-30", "images": len(demo), "sha256": digest(demo),
                 "content_sha256": content_digest(demo)},
    }


def reference(source, top1, top5, recipe, image_set, expected, note):
    return {"source": source, "top1": top1, "top5": top5, "recipe": recipe, "image_set": image_set,
            "expected": expected, "note": note}


def published_rows(shared):
    rows = {}
    with open(os.path.join(shared, "reference", "published_accuracy.csv")) as f:
        for row in csv.DictReader(f):
            rows.setdefault((row["framework"], row["model"]), []).append(row)
    return rows


def timm_rows(shared):
    """timm's results for the torchvision weights, by dataset then torchvision model name: `imagenet` (the
    50,000 validation images), `imagenet-real` (the same images, ReaL labels), and the sets a layout names:
    `imagenetv2-matched-frequency`, `imagenet-sketch`, `imagenet-a` and `imagenet-r` (the last two scored, as timm
    scores them, among their 200 classes only)."""
    rows = {}
    with open(os.path.join(shared, "reference", "timm_results_tv_in1k.csv")) as f:
        for row in csv.DictReader(f):
            rows.setdefault(row["dataset"], {})[row["torchvision_model"]] = row
    return rows


# ImageNetV2's file names are not at hand to digest: the set is recognised by the name its layout gives it
# (the archive or folder name, e.g. imagenetv2-matched-frequency-format-val) and its 10,000 images.
IMAGENETV2_MATCHED_FREQUENCY = {"name": "imagenetv2-matched-frequency", "images": 10000}
# The same for the other sets timm reports, named by the folder their archive unpacks to: ImageNet-Sketch as released
# (50,889 files; its README says 50,000), ImageNet-A (7,500 images of 200 classes), ImageNet-R (30,000, 200 classes).
LAYOUT_SETS = {
    "imagenetv2-matched-frequency": (IMAGENETV2_MATCHED_FREQUENCY, "ImageNetV2 matched-frequency (10,000 images)"),
    "imagenet-sketch": ({"name": "imagenet-sketch", "images": 50889}, "ImageNet-Sketch (50,889 images)"),
    "imagenet-a": ({"name": "imagenet-a", "images": 7500},
                   "ImageNet-A (7,500 images, scored among its 200 classes as timm does)"),
    "imagenet-r": ({"name": "imagenet-r", "images": 30000},
                   "ImageNet-R (30,000 images, scored among its 200 classes as timm does)"),
}


def timm_reference(row, sets, dataset="imagenet"):
    """timm's validate.py protocol: Resize(int(size / crop_pct)) with the row's interpolation, CenterCrop(size).
    Bilinear at 224 is the torchvision recipe (informative beside torchvision's own figure on the validation
    set); bicubic rows get the timm-bicubic presets and decide the verdict for them. On ImageNetV2 timm is the
    only source, so its row decides the verdict for its recipe; ReaL-label rows never decide one."""
    size, bicubic = int(row["img_size"]), row["interpolation"] == "bicubic"
    assert float(row["crop_pct"]) == 0.875 and (bicubic or size == 224), row
    recipe = ("timm-bicubic-299" if size == 299 else "timm-bicubic") if bicubic else "torchvision"
    source = TIMM_SOURCES.get(row["torchvision_model"])
    if source:
        recipe = source[0]
    if dataset == "imagenet":
        role = ("the protocol of the timm-bicubic presets" if bicubic else
                "informative: the torchvision recipe's protocol, torchvision-docs decides the verdict")
        if source:
            role = "its own config, the recipe source %s" % source[0]
        image_set, expected, labels = sets["full"], bicubic, None
    elif dataset == "imagenet-real":
        role = "ImageNet-ReaL labels on the 50,000 validation images: compared by `table --labels real`, never a verdict"
        image_set, expected, labels = sets["full"], False, "real"
    else:
        image_set, described = LAYOUT_SETS[dataset]
        role = ("%s, the set recognised by its layout's name and count, since its file names are not at hand to "
                "digest" % described)
        expected, labels = True, None
    norm = ", " + source[1] if source else ""
    note = ("timm %s (%s), its validate.py with img_size %d, crop_pct 0.875 (Resize(%d)), %s interpolation%s; %s"
            % (row["timm_model"], role, size, int(size / 0.875), row["interpolation"], norm, row["source"]))
    ref = reference("timm", float(row["top1"]), float(row["top5"]), recipe, image_set, expected, note)
    if labels:
        ref["labels"] = labels
    return ref


def torchvision_manifest(name, rows, sets, timm=None):
    inception = name == "inception_v3"
    size = 299 if inception else 224
    recipes = ["torchvision-inception", "torchvision-inception-seed"] if inception else ["torchvision"]
    if timm is not None and name in TIMM_SOURCES:
        recipes.append(TIMM_SOURCES[name][0])
    elif timm is not None and timm["imagenet"]["interpolation"] == "bicubic":
        recipes.append("timm-bicubic-299" if inception else "timm-bicubic")
    refs = []
    for row in rows:
        top1, top5 = float(row["top1"]), float(row["top5"])
        if row["source"] == "torchvision-docs":
            recipe = "torchvision-inception" if inception else "torchvision"
            note = ("torchvision IMAGENET1K_V1 weights metadata (acc@1/acc@5), measured by torchvision's reference "
                    "scripts with " + ("Resize(342)/CenterCrop(299)" if inception else "Resize(256)/CenterCrop(224)")
                    + " bilinear; " + row["note"])
            refs.append(reference("torchvision-docs", top1, top5, recipe, sets["full"], True, note))
        elif row["source"] == "benchmarking-keras-pytorch":
            if inception:
                refs.append(reference(row["source"], top1, top5, "torchvision-inception-seed", sets["full"], True,
                                      SEED_NOTE.format(stack="PyTorch 1.0, Resize(256) then CenterCrop(299) with "
                                                       "zero padding of the short side")))
            else:
                refs.append(reference(row["source"], top1, top5, "torchvision", sets["full"], False,
                                      "informative: the same protocol as torchvision-docs, " +
                                      SEED_NOTE.format(stack="PyTorch 1.0")))
        else:
            raise SystemExit("unexpected source %r for pytorch/%s" % (row["source"], name))
    if timm is not None:
        refs.append(timm_reference(timm["imagenet"], sets))
        for dataset in ("imagenet-real", *LAYOUT_SETS):
            if dataset in timm:
                refs.append(timm_reference(timm[dataset], sets, dataset))
    return {
        "format_version": 1, "id": "pytorch/" + name, "framework": "pytorch", "name": name,
        "description": "torchvision.models.%s with IMAGENET1K_V1 weights (pretrained=True in torchvision <= 0.12), "
                       "exported by scripts/export/export_torchvision.py" % name,
        "file": "pytorch/%s.onnx" % name, "sha256": None,
        "input": {"name": "input", "shape": ["N", 3, size, size], "layout": "nchw", "dtype": "float32"},
        "output": {"name": "logits", "classes": 1000, "label_offset": 0, "kind": "logits"},
        "default_recipe": recipes[0], "recipes": recipes, "references": refs,
        "license": "torchvision: BSD-3-Clause; weights: see torchvision's model documentation",
    }


def keras_manifest(name, rows, sets):
    recipe, size = KERAS[name]
    refs = []
    for row in rows:
        top1, top5 = float(row["top1"]), float(row["top5"])
        if row["source"] == "benchmarking-keras-pytorch":
            refs.append(reference(row["source"], top1, top5, recipe, sets["full"], True,
                                  SEED_NOTE.format(stack="Keras 2.2.4, load_img(target_size) NEAREST squash and "
                                                   "preprocess_input, one image at a time")))
        elif row["source"] == "keras-applications-docs":
            refs.append(reference(row["source"], top1, top5, None, sets["full"], False,
                                  "informative: the Keras docs say only 'single center crop', so the protocol is not "
                                  "documented exactly and cannot decide a verdict; " + row["note"]))
        else:
            raise SystemExit("unexpected source %r for keras/%s" % (row["source"], name))
    return {
        "format_version": 1, "id": "keras/" + name, "framework": "keras", "name": name,
        "description": "keras.applications.%s(weights='imagenet'), exported with its NHWC input by "
                       "scripts/export/export_keras.py" % KERAS_CLASSES[name],
        "file": "keras/%s.onnx" % name, "sha256": None,
        "input": {"name": "input", "shape": ["N", size, size, 3], "layout": "nhwc", "dtype": "float32"},
        "output": {"name": "probabilities", "classes": 1000, "label_offset": 0, "kind": "probabilities"},
        "default_recipe": recipe, "recipes": [recipe], "references": refs,
        "license": "keras-applications: Apache-2.0; weights: see the Keras applications documentation",
    }


def shared_manifests(shared, sets):
    with open(os.path.join(shared, "models", "models.json")) as f:
        spec = json.load(f)
    counts = {"coral/mobilenet_v2_1.0_224_quant": (72, 93), "coral/mobilenet_v1_0.5_160_quant": (58, 77),
              "pypi/efficientnet_lite0": (68, 93)}
    demo_counts = {"coral/mobilenet_v2_1.0_224_quant": (18, 27)}
    recipe_names = {"coral/mobilenet_v2_1.0_224_quant": "coral-lanczos-224",
                    "coral/mobilenet_v1_0.5_160_quant": "coral-lanczos-160-nchw",
                    "pypi/efficientnet_lite0": "efficientnet-lite0-224",
                    "coral/broken-mobilenet_v2_1.0_224_quant": "coral-lanczos-224"}
    out = []
    for m in spec["models"]:
        p = m["preprocess"]
        recipe = {
            "name": recipe_names[m["id"]],
            "description": ("Pillow convert('RGB').resize((%d, %d), %s) squash (pycoral's classify_image.py), "
                            "x = (p - 128) / 128, RGB" % (p["crop_size"], p["crop_size"], p["filter"])
                            if p["resize_mode"] == "squash" else
                            "Resize(%d) %s, CenterCrop(%d), /255, ImageNet mean/std, RGB (the oracle's recipe)"
                            % (p["resize_size"], p["filter"].lower(), p["crop_size"])),
            "resize_mode": "squash" if p["resize_mode"] == "squash" else "shorter-side",
            "resize_size": p["resize_size"], "crop_size": p["crop_size"], "filter": p["filter"],
            "scale": 255.0 if p["divide_by_255"] else 1.0, "mean": p["mean"], "std": p["std"],
            "channels": p["channel_order"].lower(), "layout": p["layout"].lower(),
        }
        parent = m.get("derived_from", m["id"])
        top1, top5 = counts[parent]
        broken = " (the intact parent's figures: a bad export must not reach them)" if m.get("broken") else ""
        refs = [reference("oracle", float(top1), float(top5), recipe["name"], sets["sample"], True,
                          "shared/oracle/results.json: reference_eval.py, Pillow 13.0.0 + NumPy 2.4.6 + onnxruntime "
                          "1.32.0 CPU, %d/100 top-1 and %d/100 top-5 correct%s" % (top1, top5, broken))]
        if parent in demo_counts:
            d1, d5 = demo_counts[parent]
            refs.append(reference("oracle", 100.0 * d1 / sets["demo"]["images"], 100.0 * d5 / sets["demo"]["images"],
                                  recipe["name"], sets["demo"], True,
                                  "reference_eval.py on demo/ (30 images), same versions: %d/30 top-1, %d/30 top-5%s"
                                  % (d1, d5, broken)))
        shape = [d if isinstance(d, int) else "N" for d in m["input_shape"]]
        framework, name = m["id"].split("/", 1)
        out.append({
            "format_version": 1, "id": m["id"], "framework": framework, "name": name,
            "description": "shared/models/MODELS.md: " + m["precision"],
            "file": m["file"], "sha256": m["sha256"],
            "input": {"name": m["input_name"], "shape": shape, "layout": m["layout"].lower(), "dtype": "float32"},
            "output": {"name": m["output_name"], "classes": m["num_classes"], "label_offset": m["label_offset"],
                       "kind": "logits" if m["output_kind"] == "logits" else "probabilities"},
            "default_recipe": recipe["name"], "recipes": [recipe], "references": refs,
            "license": "Apache-2.0",
            "provenance": ("derived from %s by changing one weight tensor (shared/models/MODELS.md)" % parent
                           if m.get("broken") else "shared/models/MODELS.md"),
        })
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=os.path.join(REPO, "..", "shared"))
    args = ap.parse_args()
    sets = image_sets(args.shared)
    rows = published_rows(args.shared)
    manifests = [keras_manifest(n, rows[("keras", n)], sets) for n in KERAS]
    timm = timm_rows(args.shared)
    def timm_of(name):
        if name not in timm["imagenet"]:
            return None
        return {dataset: models[name] for dataset, models in timm.items() if name in models}
    manifests += [torchvision_manifest(n, rows[("pytorch", n)], sets, timm_of(n)) for n in TORCHVISION]
    manifests += shared_manifests(args.shared, sets)
    # Every published row and every timm row of a seed model is referenced, once.
    assert sum(len(v) for v in rows.values()) + sum(1 for n in TORCHVISION if n in timm["imagenet"]) == sum(
        1 for m in manifests for r in m["references"] if r["image_set"]["name"] == "ilsvrc2012-val" and "labels" not in r)
    out_dir = os.path.join(REPO, "manifests")
    os.makedirs(out_dir, exist_ok=True)
    for m in manifests:
        with open(os.path.join(out_dir, m["id"].replace("/", "__") + ".json"), "w") as f:
            json.dump(m, f, indent=2)
            f.write("\n")
    print("wrote %d manifests; image sets: %s" % (len(manifests), json.dumps(sets)))


if __name__ == "__main__":
    main()
