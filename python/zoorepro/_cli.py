"""The `zoorepro` console script: the CLI, run by the extension module in this process."""

import signal
import sys
from typing import List, Optional

from . import _zoorepro


def main(invocation: Optional[List[str]] = None) -> None:
    """Runs the CLI on sys.argv; `invocation` is the command line the record names (default
    sys.argv, the console script's path first)."""
    # Ctrl-C as for the binary: the default (the process ends), or verify's own handler, which
    # reports what the store kept. Python's handler would wait for the command to return.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    sys.exit(_zoorepro.run_cli(sys.argv, invocation))


if __name__ == "__main__":
    main()
