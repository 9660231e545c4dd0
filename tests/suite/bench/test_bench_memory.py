"""``mcp-suite bench memory``: the command takes it by name, its graphs are what the figures claim, its floor counts.

The bench itself is not run here (its graphs take minutes to fill on these machines); what it stands
on is: a seeded graph of the stated size, written as the official server's file that our importer
reads back whole, and into a store that then holds every entity and relation.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from servers.memory.service import MemoryService
from servers.memory.settings import MemorySettings
from servers.memory.store.postgres.store import PostgresGraphStore
from servers.memory.store.sqlite.store import SqliteGraphStore
from servers.memory.transfer import parse_lines
from suite.bench import BENCHES
from suite.bench.memory import POSTGRES_DSN
from suite.bench.memory_floor import Floor, backend_pid, recall_floor
from suite.bench.memory_graph import fill_store, make_graph, official_file
from suite.cli import build_parser


def test_the_cli_takes_the_bench_by_name_and_a_quick_size() -> None:
    args = build_parser().parse_args(["bench", "memory", "--quick"])
    assert (args.name, args.quick) == ("memory", True)
    assert BENCHES["memory"] == "suite.bench.memory"


def test_a_bench_graph_is_seeded_and_its_official_file_imports_whole(tmp_path: Path) -> None:
    graph = make_graph(300)
    assert make_graph(300) == graph and make_graph(300, seed=1) != graph
    assert len(graph.entities) == 300 and len(graph.observations) == 1500
    official_file(tmp_path / "memory.jsonl", graph)
    entities, relations = parse_lines((tmp_path / "memory.jsonl").read_text(), 10_000)
    assert entities == graph.entities and relations == graph.relations


@pytest.mark.anyio
async def test_a_bench_graph_fills_a_store_with_its_vectors(tmp_path: Path) -> None:
    import time

    import numpy as np

    graph = make_graph(120)
    vectors = np.eye(len(graph.observations), 384, dtype=np.float32)
    store = SqliteGraphStore(tmp_path / "bench.db")
    await store.open()
    try:
        await fill_store(store, "bench", graph, vectors)
        stats = await store.stats("bench", time.time())
        embedded = await store.vectors_since("bench", 0, 10_000)
    finally:
        await store.close()
    assert (stats.entities, stats.observations, stats.relations) == (120, 600, len(graph.relations))
    assert len(embedded) == 600


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_the_recall_floor_counts_each_stage_and_on_postgresql_the_backends_cpu_too(
    tmp_path: Path, kind: str
) -> None:
    graph = make_graph(60)
    schema = f"memory_floor_{uuid.uuid4().hex[:8]}"
    section: dict[str, object] = (
        {"store": "sqlite", "sqlite": {"path": str(tmp_path / "floor.db")}}
        if kind == "sqlite"
        else {"store": "postgres", "postgres": {"dsn": POSTGRES_DSN, "schema_name": schema}}
    )
    store = SqliteGraphStore(tmp_path / "floor.db") if kind == "sqlite" else PostgresGraphStore(POSTGRES_DSN, schema)
    await store.open()
    try:
        await fill_store(store, "bench", graph)
        queries = [" ".join(graph.words[i : i + 3]) for i in range(12)]
        floor = await recall_floor({**section, "default_namespace": "bench"}, tmp_path, queries, 2_000)
        if isinstance(store, PostgresGraphStore):
            service = MemoryService(MemorySettings.model_validate(section), tmp_path)
            await service.open()
            try:
                assert isinstance(await backend_pid(service), int)
            finally:
                await service.close()
    finally:
        if isinstance(store, PostgresGraphStore):
            await store.drop_schema()
        await store.close()
    assert floor.keyword_ms > 0 and floor.embedding_ms > 0 and floor.scan_ms > 0
    assert floor.recall_ms > floor.embedding_ms  # a recall embeds its query and does more
    assert Floor(1.0, 2.0, 3.0, 30.0).cores_at(100.0) == pytest.approx(3.0)
