#!/usr/bin/env python3
"""One-core images/s of zoorepro's torchvision-tensor preset against torch + torchvision
themselves, on the same JPEG files. Run through scripts/bench/bench_torchvision.sh, which pins
everything to one core.

Both sides start from the files' bytes in memory: torchvision (torch.set_num_threads(1)) runs
decode_jpeg(mode=RGB) then the v2 transforms on each uint8 tensor, as a Dataset's __getitem__
would; zoorepro runs in-process (examples/preprocess_throughput: the same decode + preprocess
that verify runs, RAYON_NUM_THREADS=1). The sides take turns --repeat times and each keeps its
best round. For reference, the CLI `zoorepro preprocess --recipe torchvision-tensor FILES --out
F.npy` is timed too: process start, reading the files and writing the .npy included.
"""

import sys
import warnings

import torch
import torchvision
from torchvision.io import ImageReadMode, decode_jpeg
from torchvision.transforms import v2
import turns  # noqa: E402  (scripts/bench/turns.py)

warnings.filterwarnings("ignore")  # torchvision 0.29 deprecates its decoders

PRESET = "torchvision-tensor"
TRANSFORM = v2.Compose([
    v2.Resize(256, antialias=True),
    v2.CenterCrop(224),
    v2.ToDtype(torch.float32, scale=True),
    v2.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
])


def main():
    args = turns.parser(__doc__).parse_args()
    torch.set_num_threads(1)
    files, raw = turns.files_and_blobs(args.files)
    blobs = [torch.frombuffer(bytearray(data), dtype=torch.uint8) for data in raw]
    print(f"{len(files)} files, {turns.cpus()} CPU(s) allowed, torch {torch.__version__}, torchvision "
          f"{torchvision.__version__}, cpu capability {torch.backends.cpu.get_cpu_capability()}")

    def torchvision_side():
        for data in blobs:
            TRANSFORM(decode_jpeg(data, mode=ImageReadMode.RGB))

    rates = turns.best_rates(args, files, PRESET, {"torchvision": torchvision_side})
    print(f"{PRESET} zoorepro {rates['zoorepro']:6.1f} img/s (CLI with .npy "
          f"{rates['zoorepro cli']:6.1f})   torchvision {rates['torchvision']:6.1f} img/s   "
          f"zoorepro / torchvision {rates['zoorepro'] / rates['torchvision']:4.2f}x   "
          f"(entropy floor {rates['entropy floor']:6.1f} img/s: at most "
          f"{turns.bound(rates, 'torchvision'):4.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
