"""The floor under ``recall`` at the bench's offered load: its CPU per call with no transport at all.

Before the server starts on a filled store, the bench calls the memory service itself in this
process, one call at a time: the keyword stage alone (the store's search of the three words), the
query's embedding alone, the exact scan of the vectors alone, then whole recalls. Each is CPU per call of this process (every thread:
the store's workers and the model's included) plus, on PostgreSQL, of the one backend that served
it (read from ``/proc``: the database runs on this machine). That CPU times the offered rate, in
cores against the machine's, says whether the p99 goal can hold here whatever the server does
around the call.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from servers.memory.access import Caller
from servers.memory.recall import CANDIDATES, VECTOR_HITS
from servers.memory.service import MemoryService
from servers.memory.settings import MemorySettings
from servers.memory.store.postgres.store import PostgresGraphStore
from suite.bench.processes import cpu_seconds

WARMUP = 5
"""Untimed calls of each kind first (the model loads, the vector index fills)."""
RECALL_DEFAULTS = {"max_entities": 20, "hops": 1}
"""The ``recall`` tool's defaults, which the bench's calls leave as they are."""


@dataclass(frozen=True)
class Floor:
    """CPU ms per call of each stage, and of a whole recall."""

    keyword_ms: float
    embedding_ms: float
    scan_ms: float
    recall_ms: float

    def cores_at(self, rate: float) -> float:
        return self.recall_ms * rate / 1000.0


async def backend_pid(service: MemoryService) -> int | None:
    store = service.store
    if not isinstance(store, PostgresGraphStore):
        return None
    pid: int = await store._read(lambda db: db.fetchval("SELECT pg_backend_pid()"))
    return pid


async def _cpu_ms(calls: Sequence[Callable[[], Awaitable[Any]]], backend: int | None) -> float:
    for call in calls[:WARMUP]:
        await call()
    timed = calls[WARMUP:]
    ours, theirs = time.process_time(), cpu_seconds(backend) if backend else 0.0
    for call in timed:
        await call()
    spent = time.process_time() - ours + ((cpu_seconds(backend) - theirs) if backend else 0.0)
    return spent * 1000.0 / max(1, len(timed))


async def recall_floor(section: dict[str, Any], data_dir: Path, queries: Sequence[str], max_tokens: int) -> Floor:
    """The stages' CPU per call on the store ``section`` names (its ``postgres`` pool cut to one connection,
    no embedding cache: every stage that embeds runs the model)."""
    own = {**section, "embedding_cache": {**section.get("embedding_cache", {}), "memory_entries": 0}}
    if "postgres" in own:
        own["postgres"] = {**own["postgres"], "min_connections": 1, "max_connections": 1}
    settings = MemorySettings.model_validate({**own, "recall_vectors": True})
    service = MemoryService(settings, data_dir)
    await service.open()
    try:
        backend = await backend_pid(service)
        namespace = settings.default_namespace
        embedder = service.embedders.get(None)
        caller = Caller("bench", "recall")
        now = time.time()

        def each(make: Callable[[str], Awaitable[Any]]) -> list[Callable[[], Awaitable[Any]]]:
            return [functools.partial(make, q) for q in queries]

        keyword = await _cpu_ms(
            each(lambda q: service.store.search(namespace, q, CANDIDATES, 0, now, any_word=True)), backend
        )
        embedding = await _cpu_ms(each(lambda q: embedder.embed([q])), None)
        vectors = {q: np.asarray((await embedder.embed([q]))[0], dtype=np.float32) for q in queries}
        scan = await _cpu_ms(each(lambda q: service.vectors.nearest(namespace, vectors[q], VECTOR_HITS)), backend)
        whole = await _cpu_ms(
            each(lambda q: service.recall(caller, q, namespace, max_tokens, **RECALL_DEFAULTS)), backend
        )
    finally:
        await service.close()
    return Floor(keyword, embedding, scan, whole)


def floor_line(kind: str, floor: Floor, rate: float) -> str:
    cores = os.cpu_count() or 1
    return (
        f"  recall floor  {kind:<9} in process, one at a time, CPU per call: keyword stage {floor.keyword_ms:.1f} ms, "
        f"query embedding {floor.embedding_ms:.1f} ms, exact vector scan {floor.scan_ms:.1f} ms, whole recall {floor.recall_ms:.1f} ms: "
        f"{floor.cores_at(rate):.1f} cores at {rate:.0f}/s, of {cores}"
    )
