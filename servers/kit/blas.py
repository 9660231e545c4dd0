"""The process's BLAS threads: :func:`limit_threads`.

numpy's bundled OpenBLAS splits a large matrix-vector product over every core, and its worker
threads then spin-wait for the next call. For a server answering many small requests on a few
shared cores that spinning costs more CPU than the split saves, and it takes the cores the
server's other threads (the store, the embedding model) are waiting for. A server whose requests
multiply matrices calls :func:`limit_threads` once when it opens. The setting is OpenBLAS's and
process-wide (one server runs per process); with another BLAS, or none found, nothing changes.
"""

from __future__ import annotations

import ctypes
import glob
import logging
import os
from functools import cache
from typing import Any

import numpy

log = logging.getLogger(__name__)
_SETTERS = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads", "openblas_set_num_threads64_")
_GETTERS = ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads", "openblas_get_num_threads64_")


@cache
def _library() -> tuple[Any, Any] | None:
    """OpenBLAS's (setter, getter) of the thread count, from the library numpy ships with, or ``None``."""
    libs = os.path.join(os.path.dirname(os.path.dirname(numpy.__file__)), "numpy.libs")
    for path in sorted(glob.glob(os.path.join(libs, "*openblas*.so*"))):
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        setter = next((getattr(library, n) for n in _SETTERS if hasattr(library, n)), None)
        getter = next((getattr(library, n) for n in _GETTERS if hasattr(library, n)), None)
        if setter is not None and getter is not None:
            setter.argtypes, setter.restype = [ctypes.c_int], None
            getter.argtypes, getter.restype = [], ctypes.c_int
            return setter, getter
    return None


def threads() -> int | None:
    """OpenBLAS's thread count now, or ``None`` when it is not the BLAS found."""
    found = _library()
    return None if found is None else int(found[1]())


def limit_threads(count: int = 1) -> bool:
    """At most ``count`` OpenBLAS threads from now on, for the whole process; ``False`` if it cannot be set."""
    if count < 1:
        raise ValueError(f"a BLAS thread count is at least 1, not {count}")
    found = _library()
    if found is None:
        log.debug("no OpenBLAS found beside numpy: its thread count is left as it is")
        return False
    setter, getter = found
    if getter() > count:
        setter(count)
    return True
