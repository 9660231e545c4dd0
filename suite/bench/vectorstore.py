"""Bench the vectorstore server against the engines' own Python APIs, per backend.

For each backend (Chroma embedded, Chroma as a ``chroma run`` server, Qdrant local) it starts
``mcp-suite serve vectorstore --transport http`` with that backend alone and, in this process, a
:class:`~suite.bench.vectorstore_direct.DirectEngine` on a place of its own (the same Chroma server
for the server backend), both with the bundled embedder and the server's embedding cache off.

- **Ingest**: 10 000 short documents, embedding included, ``upsert_documents`` over MCP (the SDK
  client, streamable HTTP, calls of 500 documents) against embed + ``upsert`` in this process, in
  interleaved runs (server first on even runs, direct first on odd ones), each run with documents
  of its own. Printed: docs/s of each side and their ratio, median (min-max) of the runs. Goal:
  the server keeps at least 0.8 of the direct rate.
- **Query**: on the last run's collections (the same 10 000 documents on both sides), paced at 50
  queries/s with 8 in flight (latency from each call's due time), ``query`` with ``top_k`` 10 as raw
  stateless ``tools/call`` requests on the lean client (:mod:`suite.bench.lean_client`: the
  server's fast path). Dense mode runs in two interleaved rounds beside the direct dense query
  (embed + engine query in this process) and a no-op tool (the transport's floor); keyword and
  hybrid once each. Goals: p99 < 50 ms; the server adds < 1.5 ms at p50 over the direct dense query.
- **Memory**: the server process's RSS after the queries, the embedder warm.
- **chroma-mcp** (PyPI), when installed in ``$MCP_SUITE_BENCH_CHROMA_MCP`` (default
  ``/tmp/chroma-mcp-venv``): :mod:`suite.bench.vectorstore_peer` queries the same collection on
  the Chroma server through it, side by side.

``quick`` shrinks every size (a smoke test of the lines, not of the figures).
"""

from __future__ import annotations

import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcp import Client

from mesh import runtime
from suite.bench.gateway import LoadResult
from suite.bench.lean_client import Added, LeanCaller, Side, counted, measure_added
from suite.bench.noop_server import noop_server
from suite.bench.vectorstore_direct import DirectEngine, documents, queries
from suite.bench.vectorstore_load import backend_config, chroma_server, paced, rss_mb, spread, vectorstore_server

BACKENDS = ("chroma-embedded", "chroma-server", "qdrant-local")
MODES = ("dense", "keyword", "hybrid")
RATE = 50.0
IN_FLIGHT = 8
TOP_K = 10
CALL_SIZE = 500
GOAL_RATIO = 0.8
GOAL_P99_MS = 50.0
GOAL_ADDED_P50_MS = 1.5


@dataclass(frozen=True)
class Size:
    documents: int
    runs: int
    queries: int


FULL = Size(documents=10_000, runs=2, queries=1_000)
QUICK = Size(documents=100, runs=2, queries=12)


@dataclass
class BackendFigures:
    backend: str
    server_rates: list[float] = field(default_factory=list)
    direct_rates: list[float] = field(default_factory=list)
    queries: dict[str, LoadResult] = field(default_factory=dict)
    """The worst dense round (by p99), then keyword and hybrid."""
    added: Added = field(default_factory=lambda: Added(""))
    """Dense queries: server, direct (embed + the engine's query) and the no-op floor, two rounds."""
    rss_mb: float = float("nan")

    @property
    def ratios(self) -> list[float]:
        return [s / d for s, d in zip(self.server_rates, self.direct_rates, strict=True) if d > 0]


def _structured(result: Any, what: str) -> dict[str, Any]:
    if result.is_error:
        raise RuntimeError(f"{what} failed during the bench: {result.content}")
    return dict(result.structured_content or {})


async def _server_ingest(client: Client, collection: str, ids: list[str], texts: list[str]) -> float:
    """Create ``collection`` and upsert the texts over MCP; docs/s including the creation."""
    started = time.perf_counter()
    _structured(await client.call_tool("create_collection", {"collection": collection}), "create_collection")
    for start in range(0, len(texts), CALL_SIZE):
        batch = [
            {"id": i, "text": t}
            for i, t in zip(ids[start : start + CALL_SIZE], texts[start : start + CALL_SIZE], strict=True)
        ]
        _structured(
            await client.call_tool("upsert_documents", {"collection": collection, "documents": batch}),
            "upsert_documents",
        )
    seconds = time.perf_counter() - started
    counted = _structured(await client.call_tool("count_documents", {"collection": collection}), "count_documents")
    if counted.get("count") != len(texts):
        raise RuntimeError(f"the server holds {counted.get('count')} documents, not {len(texts)}")
    return len(texts) / seconds


async def _direct_ingest(engine: DirectEngine, collection: str, ids: list[str], texts: list[str]) -> float:
    started = time.perf_counter()
    await engine.create(collection, 384)
    for start in range(0, len(texts), CALL_SIZE):
        await engine.add(collection, ids[start : start + CALL_SIZE], texts[start : start + CALL_SIZE])
    seconds = time.perf_counter() - started
    if await engine.count(collection) != len(texts):
        raise RuntimeError(f"the direct {engine.kind} collection does not hold {len(texts)} documents")
    return len(texts) / seconds


async def _measure(
    backend: str, index: int, url: str, engine: DirectEngine, size: Size, floor_url: str, pid: int
) -> BackendFigures:
    figures = BackendFigures(backend)
    async with Client(url) as client:
        for run in range(size.runs):
            seed = 100 * index + run
            texts = documents(size.documents, seed)
            ids = [f"d{seed}-{n}" for n in range(len(texts))]
            sides = [("server", run), ("direct", run)]
            for side, _ in sides if run % 2 == 0 else reversed(sides):
                if side == "server":
                    figures.server_rates.append(await _server_ingest(client, f"ingest-s{run}", ids, texts))
                else:
                    figures.direct_rates.append(await _direct_ingest(engine, f"ingest-d{run}", ids, texts))
    last = size.runs - 1
    asked = queries(500, index)
    server, floor = LeanCaller(url, IN_FLIGHT), LeanCaller(floor_url, IN_FLIGHT)

    def over_mcp(mode: str) -> Side:
        async def call(call: int) -> None:
            arguments = {
                "collection": f"ingest-s{last}",
                "text": asked[call % len(asked)],
                "top_k": TOP_K,
                "mode": mode,
            }
            if not (await server.call("query", arguments)).get("structuredContent", {}).get("hits"):
                raise RuntimeError(f"a {mode} query found nothing")

        return call

    async def direct(call: int) -> None:
        if await engine.query(f"ingest-d{last}", asked[call % len(asked)], TOP_K) == 0:
            raise RuntimeError("a direct query found nothing")

    async def no_op(_call: int) -> None:
        await floor.call("noop", {})

    try:
        figures.added = await measure_added(
            f"{backend} dense",
            over_mcp("dense"),
            direct,
            no_op,
            calls=size.queries,
            rate=RATE,
            in_flight=IN_FLIGHT,
            server_pid=pid,
        )
        figures.queries["dense"] = max(figures.added.server, key=lambda r: r.p99_ms)
        for mode in MODES[1:]:
            figures.queries[mode] = await paced(mode, counted(over_mcp(mode)), size.queries, RATE, IN_FLIGHT)
    finally:
        await server.aclose()
        await floor.aclose()
    return figures


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def _print(figures: BackendFigures, size: Size) -> bool:
    name = figures.backend
    ratios = figures.ratios
    ratio = sorted(ratios)[len(ratios) // 2]
    met = ratio >= GOAL_RATIO
    print(
        f"ingest {name:<16} {size.documents} docs x {size.runs} runs: server {spread(figures.server_rates)} docs/s, "
        f"direct {spread(figures.direct_rates)} docs/s, ratio {ratio:.2f} "
        f"({', '.join(f'{r:.2f}' for r in ratios)}) (goal >= {GOAL_RATIO}): {_verdict(met)}"
    )
    for mode, result in figures.queries.items():
        ok = result.p99_ms < GOAL_P99_MS and result.errors == 0
        met = met and ok
        print(
            f"query  {name:<16} {mode:<8} n={result.calls} offered {RATE:.0f}/s achieved {result.rps:.1f}/s "
            f"c={IN_FLIGHT}: p50 {result.p50_ms:6.2f} ms p99 {result.p99_ms:6.2f} ms errors {result.errors} "
            f"(goal p99 < {GOAL_P99_MS:.0f} ms): {_verdict(ok)}"
        )
    added = figures.added
    ok = added.met(GOAL_ADDED_P50_MS)
    print("\n".join(added.lines(GOAL_ADDED_P50_MS)))
    print(f"memory {name:<16} server RSS with the embedder warm: {figures.rss_mb:.0f} MB")
    return met and ok


def _run_backend(backend: str, index: int, tmp: Path, chroma_url: str, size: Size, floor_url: str) -> BackendFigures:
    if backend == "chroma-server":
        server_place, direct_engine = chroma_url, DirectEngine("chroma", url=chroma_url)
    else:
        kind = "qdrant" if backend.startswith("qdrant") else "chroma"
        server_place = str(tmp / f"server-{backend}")
        direct_engine = DirectEngine(kind, path=tmp / f"direct-{backend}")  # type: ignore[arg-type]
    with vectorstore_server(tmp, backend, backend_config(backend, server_place)) as (url, pid):

        async def measure() -> BackendFigures:
            await direct_engine.open()
            try:
                figures = await _measure(backend, index, url, direct_engine, size, floor_url, pid)
            finally:
                await direct_engine.aclose()
            figures.rss_mb = rss_mb(pid)
            return figures

        return runtime.run("auto", measure)


def bench_vectorstore(iterations: int, quick: bool = False) -> bool:
    """Print every backend's ingest, query and memory lines, then chroma-mcp's; True when every goal was met."""
    from suite.bench import vectorstore_peer

    size = QUICK if quick else Size(FULL.documents, FULL.runs, max(FULL.queries, iterations))
    met = True
    with tempfile.TemporaryDirectory(prefix="mcp-suite-bench-vs-") as name, ExitStack() as stack:
        tmp = Path(name)
        (tmp / "chroma").mkdir()
        chroma_url = stack.enter_context(chroma_server(tmp / "chroma"))
        floor_url, _ = stack.enter_context(noop_server(tmp))
        for index, backend in enumerate(BACKENDS):
            figures = _run_backend(backend, index, tmp, chroma_url, size, floor_url)
            met = _print(figures, size) and met
            sys.stdout.flush()
        peer = BACKENDS.index("chroma-server")
        vectorstore_peer.side_by_side(tmp, chroma_url, f"ingest-s{size.runs - 1}", queries(500, peer), size.queries)
    return met or quick


def run(iterations: int, quick: bool = False) -> bool:
    return bench_vectorstore(iterations, quick)
