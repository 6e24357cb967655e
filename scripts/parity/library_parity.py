"""What the parity scripts of the other libraries' presets share (parity_tensorflow.py,
parity_opencv.py, parity_torchvision.py): running `zoorepro preprocess` and comparing its tensors
with the real library's, file by file, acceptance included. NumPy only: each script runs in the
venv of its own reference library.
"""

import os
import subprocess
import tempfile

import numpy as np


def zoorepro(binary, preset, paths):
    """zoorepro's tensors for `paths` (one call), or None with the exit status and the last
    message line when it refuses the call."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "t.npy")
        run = subprocess.run(
            [binary, "preprocess", "--recipe", preset, *paths, "--out", out],
            capture_output=True,
            text=True,
        )
        if run.returncode != 0:
            return None, run.returncode, run.stderr.strip().splitlines()[-1:]
        return np.load(out), 0, []


def compare(binary, preset, files, reference, library, chunk=64):
    """Compares zoorepro's `preset` tensors of `files` with `reference(path)` (the library's
    float32 tensor, or None where it refuses the file). Returns the report (counts, the files
    whose acceptance differs, the differing tensors with their max abs diff and differing
    values; `<library>_accepts`) and the reference tensors."""
    refs = {path: reference(path) for path in files}
    accepted = [p for p in files if refs[p] is not None]
    report = {"files": len(files), f"{library}_accepts": len(accepted), "identical": 0,
              "acceptance": [], "differ": [], "max_abs_diff": 0.0, "compared": 0}
    ours = {}
    for start in range(0, len(accepted), chunk):
        part = accepted[start:start + chunk]
        tensors, _, _ = zoorepro(binary, preset, part)
        if tensors is not None:
            ours.update(zip(part, tensors))
            continue
        for path in part:  # someone in the chunk was refused: find out who
            tensors, code, why = zoorepro(binary, preset, [path])
            if tensors is None:
                report["acceptance"].append((path, f"{library} accepts, zoorepro refuses", code, why))
            else:
                ours[path] = tensors[0]
    for path in files:
        if refs[path] is None:
            tensors, code, _ = zoorepro(binary, preset, [path])
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
