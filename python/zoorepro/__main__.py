"""`python -m zoorepro ARGS...`: the same as the `zoorepro` console script."""

from ._cli import main

main()
