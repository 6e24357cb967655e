#!/usr/bin/env bash
# Issue 35 item 11's non-JPEG corpus check: for every file of tests/nonjpeg-corpus/files (PNG,
# TIFF, GIF, BMP and WebP from Pillow's and pypng's source distributions) and
# tests/nonjpeg-corpus/made (generated mutants), with the presets torchvision and keras-caffe,
# zoorepro must accept exactly what Pillow 13.0.0 accepts, with bit-identical tensors. Files
# listed in tests/nonjpeg-corpus/known-unsupported.tsv may be refused cleanly ("unsupported
# image: ...") and are counted apart. The same checker as the JPEG corpus (parity_corpus.sh,
# whose Python and binary lookup applies); arguments are passed on.
set -euo pipefail
exec bash "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/parity_corpus.sh" --corpus nonjpeg "$@"
