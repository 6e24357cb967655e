"""What the parity scripts of the other libraries' presets share (parity_tensorflow.py,
parity_opencv.py, parity_torchvision.py): running `zoorepro preprocess` and comparing its tensors
with the real library's, file by file, acceptance included; recipes that are no preset, through
a scratch home whose one manifest lists them inline. NumPy only: each script runs in the venv of
its own reference library.
"""

import json
import os
import subprocess
import tempfile

import numpy as np

INLINE_MODEL = "parity/inline-recipes"


def inline_home(folder, recipes, layout):
    """A home in `folder` whose manifest INLINE_MODEL lists `recipes` (recipe objects, one
    `layout`), and the arguments that make `preprocess --recipe NAME` use it."""
    os.makedirs(os.path.join(folder, "manifests"), exist_ok=True)
    size = recipes[0]["crop_size"]
    shape = ["N", 3, size, size] if layout == "nchw" else ["N", size, size, 3]
    manifest = {
        "format_version": 1, "id": INLINE_MODEL, "framework": "parity", "name": "inline-recipes",
        "description": "recipes that are no preset, for the parity scripts", "file": "none.onnx",
        "sha256": None,
        "input": {"name": "input", "shape": shape, "layout": layout, "dtype": "float32"},
        "output": {"name": "output", "classes": 1000, "label_offset": 0, "kind": "logits"},
        "default_recipe": recipes[0]["name"], "recipes": recipes, "references": [],
        "license": "none"}
    with open(os.path.join(folder, "manifests", "parity__inline-recipes.json"), "w") as f:
        json.dump(manifest, f)
    return ["--home", folder, "--model", INLINE_MODEL]


def zoorepro(binary, preset, paths, extra=()):
    """zoorepro's tensors for `paths` (one call), or None with the exit status and the last
    message line when it refuses the call. `extra`: more arguments (inline_home's)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "t.npy")
        run = subprocess.run(
            [binary, "preprocess", *extra, "--recipe", preset, *paths, "--out", out],
            capture_output=True,
            text=True,
        )
        if run.returncode != 0:
            return None, run.returncode, run.stderr.strip().splitlines()[-1:]
        return np.load(out), 0, []


def compare(binary, preset, files, reference, library, chunk=64, extra=()):
    """Compares zoorepro's `preset` tensors of `files` with `reference(path)` (the library's
    float32 tensor, or None where it refuses the file). Returns the report (counts, the files
    whose acceptance differs, the differing tensors with their max abs diff and differing
    values; `<library>_accepts`) and the reference tensors. `extra`: zoorepro's further
    arguments (inline_home's, for a recipe that is no preset)."""
    refs = {path: reference(path) for path in files}
    accepted = [p for p in files if refs[p] is not None]
    report = {"files": len(files), f"{library}_accepts": len(accepted), "identical": 0,
              "acceptance": [], "differ": [], "max_abs_diff": 0.0, "compared": 0}
    ours = {}
    for start in range(0, len(accepted), chunk):
        part = accepted[start:start + chunk]
        tensors, _, _ = zoorepro(binary, preset, part, extra)
        if tensors is not None:
            ours.update(zip(part, tensors))
            continue
        for path in part:  # someone in the chunk was refused: find out who
            tensors, code, why = zoorepro(binary, preset, [path], extra)
            if tensors is None:
                report["acceptance"].append((path, f"{library} accepts, zoorepro refuses", code, why))
            else:
                ours[path] = tensors[0]
    for path in files:
        if refs[path] is None:
            tensors, code, _ = zoorepro(binary, preset, [path], extra)
            if tensors is not None:
                report["acceptance"].append((path, f"{library} refuses, zoorepro accepts", 0, []))
            elif code != 2:
                report["acceptance"].append((path, f"zoorepro exit {code}, not 2", code, []))
    for path, mine in ours.items():
        diff = float(np.abs(mine.astype(np.float64) - refs[path]).max())
        report["compared"] += 1
        report["max_abs_diff"] = max(report["max_abs_diff"], diff)
        if mine.tobytes() == refs[path].tobytes():
            report["identical"] += 1
        else:
            report["differ"].append((path, diff, int((mine != refs[path]).sum())))
    return report, refs
