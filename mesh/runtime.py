"""How a serving process runs: the event loop under it, and a heap that does not stall it.

**The loop.** uvloop (libuv under asyncio's API) takes about 15 % less CPU per call than the
standard loop on the database server's hot path (three PostgreSQL round trips and one HTTP exchange
a call), and asyncpg and uvicorn are built to run on it. ``event_loop`` (``MCP_SUITE_EVENT_LOOP``)
chooses: ``auto`` (the default) takes uvloop when it can be imported, ``uvloop`` requires it,
``asyncio`` keeps the standard loop (for debugging, or a platform without uvloop).

**The heap.** A server imports the SDK, pydantic, OpenTelemetry and its drivers: about 110 000 objects
the cyclic garbage collector walks on every full collection, 25-60 ms during which nothing else
runs, every call in flight waiting. :func:`freeze_startup_heap` collects once and moves what
survived into the permanent generation (:func:`gc.freeze`), so later full collections walk only
what the process made since.
"""

from __future__ import annotations

import gc
import importlib.util
from collections.abc import Awaitable, Callable
from typing import TypeVar, TypeVarTuple

import anyio

from mesh.config import ConfigError, EventLoop

T = TypeVar("T")
Ts = TypeVarTuple("Ts")


def uses_uvloop(choice: EventLoop) -> bool:
    """Whether ``choice`` runs on uvloop here; ``uvloop`` without the package installed is a configuration error."""
    available = importlib.util.find_spec("uvloop") is not None
    if choice == "uvloop" and not available:
        raise ConfigError(
            "event_loop: uvloop is not installed in this environment; "
            "pip install uvloop, or set event_loop to auto or asyncio (MCP_SUITE_EVENT_LOOP)"
        )
    return choice != "asyncio" and available


def run(choice: EventLoop, func: Callable[[*Ts], Awaitable[T]], *args: *Ts) -> T:
    """``anyio.run(func, *args)`` on the loop ``choice`` names."""
    return anyio.run(func, *args, backend="asyncio", backend_options={"use_uvloop": uses_uvloop(choice)})


def freeze_startup_heap() -> int:
    """Collect, then exempt every surviving object from later collections; the number of objects frozen.

    Call it once a process has imported and built what it serves with, just before it serves. What is
    frozen is never collected as a cycle afterwards (reference counting still frees it), so calling it
    again later in a long-lived process would pin cyclic garbage of that time.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
