"""`python -m zoorepro ARGS...`: the same as the `zoorepro` console script."""

import sys

from ._cli import main

# The record names the command as typed, not this file's path (Python's sys.argv[0] here).
main(invocation=[sys.executable, "-m", "zoorepro", *sys.argv[1:]])
