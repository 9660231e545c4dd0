"""The vectorstore bench's load and processes: a paced driver for any async call, the child processes.

:func:`paced` runs call ``i`` at ``t0 + i / rate`` with at most ``concurrency`` in flight and counts
each latency from the call's scheduled time (coordinated omission corrected, as
:func:`suite.bench.gateway.paced_load` does for raw HTTP); it drives the SDK client and the direct
engine calls alike. :func:`chroma_server` runs ``chroma run`` on a free port; :func:`vectorstore_server`
runs ``mcp-suite serve vectorstore --transport http`` with a config file for one backend.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio

from suite.bench.gateway import LoadResult, _result
from suite.bench.processes import free_port, served_over_http, wait_healthy

READY_SECONDS = 300.0  # a loaded two-core machine takes long to import Chroma and warm the model

Call = Callable[[int], Awaitable[bool]]
"""One call of a load: its index in, ``True`` out when it failed."""


async def paced(label: str, call: Call, calls: int, rate: float, concurrency: int, warmup: int = 20) -> LoadResult:
    """``calls`` calls of ``call`` due at ``rate`` per second, ``concurrency`` at most in flight.

    ``warmup`` untimed calls go first, one after another. Latency runs from a call's due time to its
    answer, so a call that waited for a free slot counts the wait.
    """
    for index in range(warmup):
        await call(-1 - index)
    latencies: list[float] = []
    errors = 0
    next_call = 0
    t0 = time.perf_counter()

    async def worker() -> None:
        nonlocal next_call, errors
        while next_call < calls:
            index = next_call
            next_call += 1
            due = t0 + index / rate
            wait = due - time.perf_counter()
            if wait > 0:
                await anyio.sleep(wait)
            failed = await call(index)
            latencies.append(time.perf_counter() - due)
            errors += int(failed)

    async with anyio.create_task_group() as tg:
        for _ in range(concurrency):
            tg.start_soon(worker)
    return _result(label, concurrency, latencies, time.perf_counter() - t0, errors)


def chroma_command() -> str:
    beside = Path(sys.executable).parent / "chroma"
    found = str(beside) if beside.exists() else shutil.which("chroma")
    if not found:
        raise RuntimeError("the `chroma` command (from the chromadb package) is not installed")
    return found


@contextmanager
def chroma_server(directory: Path) -> Iterator[str]:
    """A ``chroma run`` child keeping its data in ``directory``; yields its URL."""
    port = free_port()
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    argv = [chroma_command(), "run", "--path", str(directory), "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_healthy(f"http://127.0.0.1:{port}/api/v2/heartbeat", "chroma run", timeout=READY_SECONDS)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def backend_config(kind: str, place: str) -> dict[str, Any]:
    """The ``vectorstore.backends`` entry of a bench backend: a path (embedded) or a URL (server)."""
    engine = "qdrant" if kind.startswith("qdrant") else "chroma"
    return {"kind": engine, ("url" if place.startswith("http") else "path"): place}


@contextmanager
def vectorstore_server(
    tmp: Path, name: str, backend: dict[str, Any], ready_seconds: float = READY_SECONDS
) -> Iterator[tuple[str, int]]:
    """``mcp-suite serve vectorstore`` over HTTP against ``backend``; yields (MCP URL, pid).

    The embedding cache is off (``memory_entries: 0``): the direct baseline embeds every text, so
    the server must too, or repeated query texts would be answered from memory.
    """
    section = {"backends": {name: backend}, "embedding_cache": {"memory_entries": 0}, "max_documents_per_call": 2000}
    place = tmp / f"data-{name}"
    with served_over_http(tmp, "vectorstore", section, f"vectorstore-{name}", ready_seconds, place) as served:
        yield served


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def spread(values: list[float]) -> str:
    """``median (min-max)`` of a few runs' figures."""
    ordered = sorted(values)
    middle = (
        ordered[len(ordered) // 2]
        if len(ordered) % 2
        else (ordered[len(ordered) // 2 - 1] + ordered[len(ordered) // 2]) / 2
    )
    return f"{middle:.0f} ({ordered[0]:.0f}-{ordered[-1]:.0f})"
