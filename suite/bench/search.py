"""Bench the search server per backend: indexing rate, paced query latency, the server's added cost, index_directory.

For each backend (tantivy embedded; PostgreSQL at ``$MCP_SUITE_BENCH_POSTGRES_DSN``, default the
local ``test`` database, in a schema of the bench's own; OpenSearch only when ``OPENSEARCH_URL`` is
set) it starts ``mcp-suite serve search --transport http`` with that backend alone and drives it
with the SDK client over streamable HTTP.

- **Index**: 100 000 short documents through ``index_documents`` in calls of 5 000. Printed: docs/s.
  Goal: tantivy at least 5 000 docs/s.
- **Query**: two-word queries (every word required, a snippet of the body per hit, top 10) paced at
  100 queries/s with 8 in flight, latency from each call's due time, as raw stateless ``tools/call``
  requests on the lean client (:mod:`suite.bench.lean_client`: the server's fast path); the same
  queries with the engine's API in this process (tantivy: the server's index opened read-only;
  PostgreSQL: the server's statement through asyncpg); and a no-op tool
  (:mod:`suite.bench.noop_server`), the transport's floor. Two interleaved rounds (server, direct,
  floor; floor, direct, server). Goals: p99 under 20 ms (tantivy) and 50 ms (PostgreSQL); the server
  adds under 1.5 ms at p50.
- **CPU**, which load changes little: the server process's CPU per indexed document and per query
  of each server round (read from ``/proc``; PostgreSQL's own is not counted), this process's per
  query of each direct round, and, in this process, the CPU per document of 20 000 documents
  written with tantivy's API against through the search service (the ratio is the figure).
- **index_directory** of this repository's tree (``.venv``, ``.tools``, caches and the deny globs
  left out): files/s of the first run and the seconds of the second, incremental one.

``quick`` shrinks every size (a smoke test of the lines, not of the figures).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import asyncpg  # type: ignore[import-untyped]
from mcp import Client

from servers.kit.paths.settings import DEFAULT_DENY_GLOBS
from suite.bench.lean_client import Added, LeanCaller, measure_added
from suite.bench.noop_server import noop_server
from suite.bench.search_corpus import FIELDS, documents, query_texts
from suite.bench.search_cpu import ingest_cpu, process_cpu
from suite.bench.search_direct import DirectPostgres, DirectTantivy, search_server

RATE = 100.0
IN_FLIGHT = 8
CALL_SIZE = 5_000
GOAL_INDEX_RATE = {"tantivy": 5_000.0}
GOAL_P99_MS = {"tantivy": 20.0, "postgres": 50.0}
GOAL_ADDED_P50_MS = 1.5
POSTGRES_DSN = os.environ.get("MCP_SUITE_BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
REPOSITORY = Path(__file__).resolve().parents[2]
TREE_DENY = (
    *DEFAULT_DENY_GLOBS,
    ".venv/",
    ".tools/",
    "node_modules/",
    "__pycache__/",
    ".mypy_cache/",
    ".ruff_cache/",
    ".pytest_cache/",
    "*.egg-info/",
)


@dataclass(frozen=True)
class Size:
    documents: int
    queries: int
    cpu_documents: int


FULL = Size(documents=100_000, queries=2_000, cpu_documents=20_000)
QUICK = Size(documents=300, queries=30, cpu_documents=300)


@dataclass
class Figures:
    backend: str
    index_rate: float = 0.0
    index_cpu_us: float = 0.0
    """The server process's CPU per indexed document."""
    added: Added = field(default_factory=lambda: Added(""))
    """The query rounds: server, direct, floor (server CPU per query: the engine's own process not counted)."""
    has_direct: bool = False


def _structured(result: Any, what: str) -> dict[str, Any]:
    if result.is_error:
        raise RuntimeError(f"{what} failed during the bench: {result.content}")
    return dict(result.structured_content or {})


def _backend(kind: str, schema: str) -> dict[str, Any]:
    if kind == "postgres":
        return {"kind": "postgres", "dsn": POSTGRES_DSN, "schema_name": schema}
    if kind == "opensearch":
        return {"kind": "opensearch", "url": os.environ["OPENSEARCH_URL"], "index_prefix": f"{schema}-"}
    return {"kind": "tantivy"}


async def _index(client: Client, size: Size, pid: int) -> tuple[float, float]:
    _structured(await client.call_tool("create_index", {"index": "bench", "fields": FIELDS}), "create_index")
    docs = documents(size.documents, seed=1)
    cpu = process_cpu(pid)
    started = time.perf_counter()
    for start in range(0, len(docs), CALL_SIZE):
        _structured(
            await client.call_tool("index_documents", {"index": "bench", "documents": docs[start : start + CALL_SIZE]}),
            "index_documents",
        )
    seconds = time.perf_counter() - started
    cpu_us = (process_cpu(pid) - cpu) * 1e6 / len(docs)
    counted = _structured(await client.call_tool("count", {"index": "bench"}), "count")
    if counted["count"] != len(docs):
        raise RuntimeError(f"the server holds {counted['count']} documents, not {len(docs)}")
    return len(docs) / seconds, cpu_us


async def _measure(kind: str, tmp: Path, size: Size, floor_url: str) -> Figures:
    schema = f"search_bench_{uuid.uuid4().hex[:10]}"
    figures = Figures(kind)
    direct_close: Callable[[], Awaitable[None]] | None = None
    try:
        with search_server(
            tmp / kind, {"backends": {kind: _backend(kind, schema)}, "max_documents_per_call": CALL_SIZE}
        ) as (url, data_dir, pid):
            async with Client(url) as client:
                figures.index_rate, figures.index_cpu_us = await _index(client, size, pid)
            texts = query_texts(size.queries, seed=2)
            server, floor = LeanCaller(url, IN_FLIGHT), LeanCaller(floor_url, IN_FLIGHT)

            async def through_server(index: int) -> None:
                arguments = {"index": "bench", "text": texts[index % len(texts)], "highlight": ["body"]}
                await server.call("search", arguments)

            async def no_op(_index: int) -> None:
                await floor.call("noop", {})

            query: Callable[[str], Awaitable[Any]] | None = None
            if kind == "tantivy":
                query = DirectTantivy(data_dir / "search" / kind / "bench").query
            elif kind == "postgres":
                engine = DirectPostgres(POSTGRES_DSN, schema, "bench")
                await engine.open()
                query, direct_close = engine.query, engine.close

            async def direct(index: int) -> None:
                if query is not None:
                    await query(texts[index % len(texts)])

            try:
                figures.added = await measure_added(
                    kind,
                    through_server,
                    direct,
                    no_op,
                    calls=len(texts),
                    rate=RATE,
                    in_flight=IN_FLIGHT,
                    server_pid=pid,
                )
                figures.has_direct = query is not None
            finally:
                await server.aclose()
                await floor.aclose()
    finally:
        if direct_close is not None:
            await direct_close()
        if kind == "postgres":
            connection = await asyncpg.connect(POSTGRES_DSN)
            try:
                await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            finally:
                await connection.close()
    return figures


async def _directory(tmp: Path) -> tuple[int, float, float, float]:
    settings = {"directory_roots": [{"path": str(REPOSITORY), "mode": "ro"}], "directory_deny": list(TREE_DENY)}
    with search_server(tmp / "tree", settings) as (url, _, _pid):
        async with Client(url) as client:
            started = time.perf_counter()
            first = _structured(
                await client.call_tool("index_directory", {"index": "repo", "path": str(REPOSITORY)}), "index_directory"
            )
            first_seconds = time.perf_counter() - started
            started = time.perf_counter()
            second = _structured(
                await client.call_tool("index_directory", {"index": "repo", "path": str(REPOSITORY)}), "index_directory"
            )
            second_seconds = time.perf_counter() - started
    if second["indexed"] != 0:
        print(f"  note: the second run re-indexed {second['indexed']} files that changed meanwhile")
    return int(first["indexed"]), first_seconds, int(first["indexed"]) / first_seconds, second_seconds


def _load_line() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def run(iterations: int, quick: bool = False) -> bool:
    """Print the search bench's figures; True when every goal is met."""
    size = QUICK if quick else FULL
    kinds = ["tantivy", "postgres"] + (["opensearch"] if os.environ.get("OPENSEARCH_URL") else [])
    print(
        f"search bench: {size.documents} documents, {size.queries} queries per round at {RATE:.0f}/s, {IN_FLIGHT} in flight"
    )
    print(f"  load average before: {_load_line()}")
    met = True
    with tempfile.TemporaryDirectory(prefix="mcp-suite-bench-search-") as tmp, noop_server(Path(tmp)) as (floor_url, _):
        for kind in kinds:
            figures = anyio.run(_measure, kind, Path(tmp), size, floor_url)
            goal_rate = GOAL_INDEX_RATE.get(kind)
            ok_rate = goal_rate is None or figures.index_rate >= goal_rate
            print(
                f"  {kind:10s} index {figures.index_rate:8.0f} docs/s"
                + (f" (goal >= {goal_rate:.0f})" if goal_rate else "")
                + f"; server cpu {figures.index_cpu_us:.0f} us/doc"
            )
            added = figures.added
            worst_p99 = max(r.p99_ms for r in added.server)
            goal_p99 = GOAL_P99_MS.get(kind)
            ok_p99 = goal_p99 is None or worst_p99 < goal_p99
            errors = added.errors
            lines = added.lines(GOAL_ADDED_P50_MS)
            ok_added = added.met(GOAL_ADDED_P50_MS) or not figures.has_direct
            print("\n".join(lines))
            if not figures.has_direct:
                print(f"  {kind:10s} no direct side for this backend: its added p50 compares with nothing")
            if goal_p99 is not None:
                print(f"  {kind:10s} worst server p99 {worst_p99:.2f} ms (goal < {goal_p99:.0f})")
            met = met and ok_rate and ok_p99 and ok_added and errors == 0
        direct_us, service_us = ingest_cpu(documents(size.cpu_documents, seed=3), CALL_SIZE)
        print(
            f"  tantivy    index cpu in one process: tantivy API {direct_us:.1f} us/doc, "
            f"service {service_us:.1f} us/doc (ratio {service_us / direct_us:.2f})"
        )
        files, seconds, rate, again = anyio.run(_directory, Path(tmp))
        print(
            f"  index_directory of the repository: {files} files in {seconds:.2f} s ({rate:.0f} files/s); second run {again:.2f} s"
        )
    print(f"  load average after: {_load_line()}")
    print("search bench:", "every goal met" if met else "a goal was missed", file=sys.stdout)
    return met
