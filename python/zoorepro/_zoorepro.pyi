"""Types of the extension module (src/python.rs); use the `zoorepro` package's functions."""

from os import PathLike
from typing import Callable, List, Optional, Tuple, Union

import numpy

__version__: str

class Error(Exception): ...

def run_cli(argv: List[str], invocation: Optional[List[str]] = None) -> int: ...
def set_ort_library(path: Optional[Union[str, PathLike[str]]]) -> None: ...
def preprocess(
    data: Optional[bytes],
    path: Optional[str],
    recipe: Optional[str] = None,
    model: Optional[str] = None,
    home: Optional[str] = None,
    pillow_compat: Optional[str] = None,
) -> Tuple[numpy.ndarray, List[int]]: ...

class Loader:
    def __init__(
        self,
        val: str,
        recipe: Optional[str],
        batch_size: int,
        threads: Optional[int] = None,
        shard: Optional[str] = None,
        ground_truth: Optional[str] = None,
        pillow_compat: Optional[str] = None,
        model: Optional[str] = None,
        home: Optional[str] = None,
    ) -> None: ...
    def next_batch(self) -> Optional[Tuple[List[str], List[int], numpy.ndarray, List[int]]]: ...
    def close(self) -> None: ...
    @property
    def failed(self) -> List[Tuple[str, str]]: ...
    @property
    def skipped(self) -> List[Tuple[str, int, List[str]]]: ...

def evaluate(
    call: Callable[[numpy.ndarray, List[int]], Tuple[bytes, int]],
    argv: List[str],
    native: Tuple[Optional[str], str, Optional[str], bool],
) -> Tuple[str, int, List[str]]: ...
