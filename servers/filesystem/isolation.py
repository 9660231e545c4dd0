"""Run a regular-expression search in a separate process, so a pathological pattern can be killed.

Python's ``re`` holds the GIL for a whole match: a catastrophically backtracking pattern would
freeze the server's event loop, not just a worker thread. Regex searches therefore run in a small
pool of spawned worker processes; when one overruns its deadline the pool is terminated (killing
the match) and a fresh one is made for the next call. Literal searches never come here.

A spawned worker imports the search code afresh (about a second here, most of it the SDK that the
error types come from). Each worker does so as it starts, before it takes any work, and a new pool is
waited for, under :data:`STARTUP_TIMEOUT`, before a search's own deadline starts: the first regex
search, or the first after a killed one, is not refused for the time its worker took to start.
"""

from __future__ import annotations

import importlib
import multiprocessing
import multiprocessing.pool
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from servers.filesystem.errors import FsError

T = TypeVar("T")
WORKERS = 2
STARTUP_TIMEOUT = 60.0

_lock = threading.Lock()
_pool: multiprocessing.pool.Pool | None = None


def _started() -> bool:
    """Run in a new pool: once it answers, a worker is up and has imported the search code (its initializer)."""
    return True


def _current(module: str) -> multiprocessing.pool.Pool:
    """The worker pool; a new one's workers import ``module`` (the search code) before taking work."""
    global _pool
    with _lock:
        if _pool is None:
            spawn = multiprocessing.get_context("spawn")
            pool = spawn.Pool(processes=WORKERS, initializer=importlib.import_module, initargs=(module,))
            try:
                pool.apply_async(_started).get(STARTUP_TIMEOUT)
            except multiprocessing.TimeoutError:
                pool.terminate()
                raise FsError(
                    "unavailable",
                    f"the regular-expression search workers did not start within {STARTUP_TIMEOUT:g} seconds "
                    "(the machine is overloaded); try again, or pass literal=true, which needs no worker",
                ) from None
            _pool = pool
        return _pool


def _discard(pool: multiprocessing.pool.Pool) -> None:
    global _pool
    with _lock:
        if _pool is pool:
            _pool = None
    pool.terminate()


def run_isolated(fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any], timeout: float) -> T:
    """``fn(*args, **kwargs)`` in a worker process; :class:`FsError` ``timeout`` (and the worker killed) past ``timeout``.

    Blocking: call it from a worker thread. ``fn`` must be importable by name and its arguments picklable.
    """
    pool = _current(fn.__module__)
    pending = pool.apply_async(fn, args, kwargs)
    try:
        result: T = pending.get(timeout)
    except multiprocessing.TimeoutError:
        _discard(pool)
        raise FsError(
            "timeout",
            f"the search did not finish within {timeout:g} seconds (a regular expression that backtracks badly, "
            "or a very large tree); simplify the pattern, narrow the path or include globs, or pass literal=true",
        ) from None
    return result


def shutdown() -> None:
    """Stop the worker processes (they are also stopped when the interpreter exits)."""
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.terminate()
