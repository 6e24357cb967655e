"""zoorepro.Loader's throughput against what its threads can do, and against a Pillow pool.

    python scripts/bench/bench_loader.py [--images DIR] [--threads 1,2] [--batch 32] [--rounds 3]
        [--repeat 5] [--per-core-bin target/release/examples/preprocess_throughput]

Run with a Python that has the wheel installed (scripts/build_wheel.sh) and Pillow (the oracle's
venv, .venv, has Pillow 13 and numpy). For each T of --threads it prints, on the same images
(default ../shared/imagenet-sample, 100 JPEGs, copied --repeat times under new names into a
temporary ImageFolder, page cache warm):

- Loader: images/s of `zoorepro.Loader(DIR, "torchvision", batch_size, threads=T)`,
  iterated to the end (files read from disk, decoded, packed, handed to numpy), the best round;
- target: the in-process per-core preprocessing rate (examples/preprocess_throughput, one
  core, images in memory, the same recipe, the same images) times T, and the Loader's share of
  it (issue 39's goal: at least 90%);
- in-process on T threads: the same binary's rate with T threads at once (--threads T), what
  this machine gives T threads of preprocessing with nothing else to do, and the Loader's share
  of that (on a machine of T cores the Loader's reader and its Python consumer need cores too);
  on a machine other jobs load, T threads do not get T
  cores, so the Loader's CPU time an image (every thread of the process: reading, decoding,
  packing, the copy into numpy) is printed too, beside the per-core wall time an image (an
  upper bound of its CPU time);
- Pillow pool: images/s of a multiprocessing.Pool(T) running the oracle's pipeline
  (../shared/oracle/reference_eval.py `preprocess`, Pillow + NumPy) with the same geometry
  (shorter side 256 bilinear, centre crop 224, ImageNet mean/std, NCHW), arrays returned to the
  parent as a DataLoader's workers return them.

Without --per-core-bin (or where it is missing) the per-core rate is measured in Python with
zoorepro.preprocess on in-memory bytes, one thread, which counts the binding's conversion too.
"""
import argparse
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import zoorepro

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.normpath(os.path.join(HERE, "..", "..", "..", "shared"))
RECIPE = "torchvision"
# The oracle's recipe fields for torchvision's geometry.
ORACLE_RECIPE = {
    "resize_mode": "shorter_side", "resize_size": 256, "crop_size": 224, "filter": "BILINEAR",
    "divide_by_255": True, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
    "layout": "NCHW",
}


def images(root):
    return sorted(os.path.join(r, f) for r, _, names in os.walk(root) for f in names
                  if f.lower().endswith((".jpeg", ".jpg", ".png")))


def per_core_rate(files, binary, rounds, threads=1):
    """The in-process preprocessing rate of one core, images/s of wall time, and (with the
    binary, threads > 1) the rate on `threads` threads at once, else None."""
    if binary and os.path.exists(binary):
        out = subprocess.run([binary, "--rounds", str(rounds), "--threads", str(threads),
                              "--recipe", RECIPE, *files], capture_output=True, text=True, check=True)
        rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
        return rows[0]["images_per_second"], rows[0]["threads_images_per_second"], os.path.basename(binary)
    data = [open(f, "rb").read() for f in files]
    wall = 0.0
    for _ in range(rounds):
        start = time.perf_counter()
        for d in data:
            zoorepro.preprocess(d, RECIPE)
        wall = max(wall, len(data) / (time.perf_counter() - start))
    return wall, None, "zoorepro.preprocess in one thread"


def loader_rate(root, threads, batch, rounds):
    """The Loader's images/s by wall time, and by the CPU time of this process (every thread)."""
    wall, cpu, count = 0.0, 0.0, 0
    for _ in range(rounds):
        start, start_cpu = time.perf_counter(), time.process_time()
        count = 0
        for names, _, tensor in zoorepro.Loader(root, RECIPE, batch_size=batch, threads=threads):
            count += len(names)
        wall = max(wall, count / (time.perf_counter() - start))
        cpu = max(cpu, count / (time.process_time() - start_cpu))
    return wall, cpu, count


def _oracle_preprocess(path):
    return _ORACLE.preprocess(path, ORACLE_RECIPE)


def _init_oracle(oracle_dir):
    global _ORACLE
    sys.path.insert(0, oracle_dir)
    import reference_eval  # noqa: PLC0415 - the oracle's own module, found at run time
    _ORACLE = reference_eval


def pillow_rate(files, threads, batch, rounds, oracle_dir):
    best = 0.0
    with multiprocessing.Pool(threads, initializer=_init_oracle, initargs=(oracle_dir,)) as pool:
        pool.map(_oracle_preprocess, files[:threads])  # workers started and imported
        for _ in range(rounds):
            start = time.perf_counter()
            for i in range(0, len(files), batch):
                np.stack(pool.map(_oracle_preprocess, files[i:i + batch]))
            best = max(best, len(files) / (time.perf_counter() - start))
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", default=os.path.join(SHARED, "imagenet-sample"))
    parser.add_argument("--oracle", default=os.path.join(SHARED, "oracle"))
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=5,
                        help="copies of each image in the set timed (a longer run: start-up weighs less)")
    parser.add_argument("--per-core-bin", default=os.path.join(
        HERE, "..", "..", "target", "release", "examples", "preprocess_throughput"))
    args = parser.parse_args()
    originals = images(args.images)
    scratch = tempfile.mkdtemp(prefix="bench_loader.")
    try:
        run(args, originals, repeated(originals, args.repeat, scratch))
    finally:
        shutil.rmtree(scratch)


def repeated(originals, repeat, scratch):
    """An ImageFolder of `repeat` copies of each image (distinct names: a name is an identity)."""
    root = os.path.join(scratch, "val")
    for i in range(repeat):
        for path in originals:
            folder = os.path.join(root, os.path.basename(os.path.dirname(path)))
            os.makedirs(folder, exist_ok=True)
            shutil.copyfile(path, os.path.join(folder, f"copy{i}_{os.path.basename(path)}"))
    return root


def run(args, originals, root):
    """Each side takes its turn in every round (the load of a shared machine falls on all of them
    alike), and each keeps its best round."""
    files = images(root)
    print(f"{len(files)} images ({args.repeat} copies of the {len(originals)} of {args.images}), "
          f"recipe {RECIPE}, batch {args.batch}, best of {args.rounds} rounds taken in turns; "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    threads = [int(t) for t in args.threads.split(",")]
    per_core, how = 0.0, ""
    in_process = {t: 0.0 for t in threads if t > 1}
    loader = {t: 0.0 for t in threads}
    loader_cpu = {t: 0.0 for t in threads}
    pillow = {t: 0.0 for t in threads}
    for _ in range(args.rounds):
        wall, _, how = per_core_rate(files, args.per_core_bin, 1)
        per_core = max(per_core, wall)
        for t in in_process:
            _, on_t, _ = per_core_rate(files, args.per_core_bin, 1, t)
            in_process[t] = max(in_process[t], on_t or 0.0)
        for t in threads:
            wall, cpu, count = loader_rate(root, t, args.batch, 1)
            assert count == len(files), (count, len(files))
            loader[t], loader_cpu[t] = max(loader[t], wall), max(loader_cpu[t], cpu)
            pillow[t] = max(pillow[t], pillow_rate(files, t, args.batch, 1, args.oracle))
    print(f"per-core preprocessing rate: {per_core:.1f} images/s = {1000 / per_core:.2f} ms an image "
          f"({how}, the same {len(files)} images); load average now {os.getloadavg()[0]:.1f}")
    for t in threads:
        target = per_core * t
        print(f"T={t}: Loader {loader[t]:.1f} images/s = {100 * loader[t] / target:.0f}% of "
              f"{target:.1f} (per-core x {t}); {1000 / loader_cpu[t]:.2f} ms of CPU an image, "
              f"every thread of the process counted; "
              f"Pillow pool (oracle pipeline) {pillow[t]:.1f} images/s; Loader / Pillow "
              f"{loader[t] / pillow[t]:.2f}x")
        if in_process.get(t):
            print(f"     in-process on {t} threads: {in_process[t]:.1f} images/s "
                  f"({in_process[t] / per_core:.2f}x one core); the Loader {100 * loader[t] / in_process[t]:.0f}% of it")


if __name__ == "__main__":
    main()
