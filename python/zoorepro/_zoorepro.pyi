"""Types of the extension module (src/python.rs); use the `zoorepro` package's functions."""

from os import PathLike
from typing import List, Optional, Tuple, Union

__version__: str

class Error(Exception): ...

def run_cli(argv: List[str]) -> int: ...
def set_ort_library(path: Optional[Union[str, PathLike[str]]]) -> None: ...
def preprocess(
    data: Optional[bytes], path: Optional[str], recipe: str, pillow_compat: Optional[str] = None
) -> Tuple[bytes, List[int]]: ...
