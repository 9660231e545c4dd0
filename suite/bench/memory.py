"""``mcp-suite bench memory``: recall and search latency under load, write throughput, and the official server side by side.

1. ``search_nodes`` and ``recall`` p99 on a graph of 10,000 entities and 50,000 observations, at an
   offered 100 calls/s with 8 in flight, through ``mcp-suite serve memory`` over HTTP on SQLite and
   on PostgreSQL (goal: under 50 ms). The observations' vectors are seeded unit vectors of the model's
   dimension (the cost of ``recall`` does not depend on their values); queries are embedded by the model.
   Before the server starts, a floor line gives ``recall``'s CPU per call with no transport
   (:mod:`suite.bench.memory_floor`) and the cores it takes at the offered rate.
2. Writes per second on PostgreSQL at concurrency 8: two writer processes, four in flight each,
   through one server (goal: at least 1,000), with the CPU per write of the server and of every
   ``postgres`` process on the machine.
3. The official memory server and ours over stdio on the same graphs of 1,000 and 10,000 entities:
   ``create_entities``, ``search_nodes``, ``open_nodes`` and ``read_graph`` p50 for both, the two
   servers' calls interleaved round by round (goal: ours faster on every call at 10,000). Our
   ``read_graph`` answers its first page (the default token budget); theirs answers the whole graph.

``--quick`` runs every part at a tenth of the size. Each figure is printed with the load average.
"""

from __future__ import annotations

import random
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import numpy as np

from servers.memory.store.base import GraphStore
from servers.memory.store.postgres.store import PostgresGraphStore
from servers.memory.store.sqlite.store import SqliteGraphStore
from suite.bench.lean_client import LeanCaller
from suite.bench.memory_floor import floor_line, recall_floor
from suite.bench.memory_graph import Graph, fill_store, make_graph, official_file
from suite.bench.memory_processes import memory_server, run_writers
from suite.bench.memory_side_by_side import side_by_side
from suite.bench.memory_writer import succeeded
from suite.bench.processes import command_cpu_seconds, cpu_seconds
from suite.bench.vectorstore_load import paced

POSTGRES_DSN = "postgresql://postgres@127.0.0.1:5432/test"
NAMESPACE = "bench"
RATE = 100.0
IN_FLIGHT = 8
P99_GOAL_MS = 50.0
WRITES_GOAL = 1_000.0
RECALL_TOKENS = 2_000
FLOOR_CALLS = 105


def _load_line() -> str:
    return "load average " + " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _vectors(graph: Graph, dimension: int = 384) -> np.ndarray[Any, np.dtype[np.float32]]:
    """Unit vectors of the model's dimension, one per observation, seeded.

    The bench times ``recall``, whose cost does not depend on what the vectors say; embedding 50,000
    observations with the bundled model would take most of an hour on a loaded two-core machine.
    The query is still embedded by the server's model on every call.
    """
    rows = np.random.default_rng(19).standard_normal((len(graph.observations), dimension)).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return rows


async def _filled(store: GraphStore, graph: Graph, vectors: np.ndarray[Any, np.dtype[np.float32]]) -> None:
    await store.open()
    try:
        await fill_store(store, NAMESPACE, graph, vectors)
        if isinstance(store, PostgresGraphStore):
            await store.vacuum_analyze()  # as autovacuum would soon after a bulk load
    finally:
        await store.close()


async def _latency(
    url: str, pid: int, tool: str, arguments_of: Callable[[int], dict[str, Any]], calls: int
) -> tuple[float, float, int, float]:
    """p50 and p99 ms, errors, and the server process's CPU ms per call (warm-up calls included)."""
    caller = LeanCaller(url, IN_FLIGHT, read_timeout=60.0)
    try:

        async def one(index: int) -> bool:
            return not await succeeded(caller, tool, arguments_of(index))

        cpu = cpu_seconds(pid)
        result = await paced(tool, one, calls, RATE, IN_FLIGHT, warmup=20)
        cpu_ms = (cpu_seconds(pid) - cpu) * 1000 / (calls + 20)
    finally:
        await caller.aclose()
    return result.p50_ms, result.p99_ms, result.errors, cpu_ms


def _part_latency(tmp: Path, graph: Graph, vectors: Any, calls: int) -> bool:
    ok = True
    rng = random.Random(5)
    queries = [rng.choice(graph.words) for _ in range(calls + 50)]
    phrases = [" ".join(rng.sample(graph.words, 3)) for _ in range(calls + 50)]
    schema = f"memory_bench_{uuid.uuid4().hex[:8]}"
    stores: dict[str, tuple[GraphStore, dict[str, Any]]] = {
        "sqlite": (
            SqliteGraphStore(tmp / "bench.db"),
            {"store": "sqlite", "sqlite": {"path": str(tmp / "bench.db")}},
        ),
        "postgres": (
            PostgresGraphStore(POSTGRES_DSN, schema),
            {"store": "postgres", "postgres": {"dsn": POSTGRES_DSN, "schema_name": schema}},
        ),
    }
    try:
        for kind, (store, section) in stores.items():
            anyio.run(_filled, store, graph, vectors)
            memory = {**section, "default_namespace": NAMESPACE, "embedding_cache": {"memory_entries": 0}}
            floor_dir = tmp / f"floor-{kind}"
            floor_dir.mkdir()
            floor = anyio.run(recall_floor, memory, floor_dir, phrases[:FLOOR_CALLS], RECALL_TOKENS)
            print(f"{floor_line(kind, floor, RATE)}  ({_load_line()})")
            with memory_server(tmp, f"latency-{kind}", memory, ready_seconds=300) as (url, pid):
                for tool, arguments in (
                    ("search_nodes", lambda i: {"query": queries[i % len(queries)], "limit": 20}),
                    ("recall", lambda i: {"query": phrases[i % len(phrases)], "max_tokens": RECALL_TOKENS}),
                ):
                    p50, p99, errors, cpu_ms = anyio.run(_latency, url, pid, tool, arguments, calls)
                    met = p99 < P99_GOAL_MS and errors == 0
                    ok = ok and met
                    print(
                        f"  {tool:<13} {kind:<9} {RATE:.0f}/s offered, {IN_FLIGHT} in flight: p50 {p50:6.1f} ms  "
                        f"p99 {p99:6.1f} ms  errors {errors}  server CPU {cpu_ms:.1f} ms/call  "
                        f"goal p99 < {P99_GOAL_MS:.0f} ms: {'met' if met else 'MISSED'}"
                        f"  ({_load_line()})"
                    )
    finally:
        anyio.run(_drop, schema)
    return ok


async def _drop(schema: str) -> None:
    store = PostgresGraphStore(POSTGRES_DSN, schema, min_size=0, max_size=1)
    try:
        await store.drop_schema()
    finally:
        await store.close()


def _part_writes(tmp: Path, writes: int) -> bool:
    schema = f"memory_bench_{uuid.uuid4().hex[:8]}"
    memory = {"store": "postgres", "postgres": {"dsn": POSTGRES_DSN, "schema_name": schema}, "recall_vectors": False}
    try:
        with memory_server(tmp, "writes", memory) as (url, pid):
            shared = 64

            async def setup() -> None:
                caller = LeanCaller(url, 1, read_timeout=60.0)
                try:
                    entities = [
                        {"name": f"shared-{k}", "entityType": "shared", "observations": []} for k in range(shared)
                    ]
                    await succeeded(caller, "create_entities", {"entities": entities, "namespace": NAMESPACE})
                finally:
                    await caller.aclose()

            anyio.run(setup)
            argvs = [
                [
                    "--url",
                    url,
                    "--namespace",
                    NAMESPACE,
                    "--writer",
                    str(w),
                    "--writes",
                    str(writes // 2),
                    "--shared",
                    str(shared),
                    "--in-flight",
                    "4",
                ]
                for w in range(2)
            ]
            started, cpu, database = time.perf_counter(), cpu_seconds(pid), command_cpu_seconds("postgres")
            reports = run_writers(argvs)
            seconds, cpu_ms = time.perf_counter() - started, (cpu_seconds(pid) - cpu) * 1000 / writes
            database_ms = (command_cpu_seconds("postgres") - database) * 1000 / writes
    finally:
        anyio.run(_drop, schema)
    errors = sum(int(r["errors"]) for r in reports)
    rate = writes / max(r["seconds"] for r in reports)
    met = rate >= WRITES_GOAL and errors == 0
    print(
        f"  add_observations postgres, concurrency 8 (2 processes x 4): {rate:7.0f} writes/s "
        f"({writes} in {seconds:.1f} s with start-up)  errors {errors}  server CPU {cpu_ms:.2f} ms/write  "
        f"PostgreSQL CPU {database_ms:.2f} ms/write  "
        f"goal >= {WRITES_GOAL:.0f}/s: "
        f"{'met' if met else 'MISSED'}  ({_load_line()})"
    )
    return met


def bench_memory(iterations: int, quick: bool = False) -> bool:
    scale = 10 if quick else 1
    entities = 10_000 // scale
    print(f"memory bench: graph of {entities} entities x 5 observations ({_load_line()})")
    ok = True
    with tempfile.TemporaryDirectory(prefix="mcp-suite-bench-memory-") as name:
        tmp = Path(name)
        graph = make_graph(entities)
        vectors = _vectors(graph)
        ok = _part_latency(tmp, graph, vectors, max(200, iterations)) and ok
        ok = _part_writes(tmp, 4_000 // scale) and ok
        for size in (1_000 // scale, 10_000 // scale):
            sized = make_graph(size)
            official_file(tmp / f"official-{size}.jsonl", sized)
            ok = (
                side_by_side(tmp, sized, size, rounds=max(5, iterations // 60), decisive=size == 10_000 // scale) and ok
            )
    return ok


def run(iterations: int, quick: bool = False) -> bool:
    return bench_memory(iterations, quick)
