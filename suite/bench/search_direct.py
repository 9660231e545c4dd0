"""The search bench's corpus, queries, server process and the engines' own APIs called directly.

:func:`documents` makes short documents (a title of 3 and a body of 12 to 20 words from a fixed
list, a category, a price and a date) with a seed; :func:`query_texts` makes two-word queries on
the same list. :class:`DirectTantivy` opens the server's on-disk index read-only in this process and
runs a query as the server does (parse, top 10, a snippet per hit); :class:`DirectPostgres` runs the
server's statement for the same query with asyncpg. :func:`search_server` runs ``mcp-suite serve
search --transport http`` with a config file.
"""

# The one statement here names a table the bench made itself; the query text is a bind parameter.
# ruff: noqa: S608

from __future__ import annotations

import random
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio.to_thread
import asyncpg  # type: ignore[import-untyped]
import httpx
import tantivy
import yaml

from servers.search.backends.tantivy.analysis import analyzer_of, tokenizer_name
from servers.search.schema import IndexSchema
from suite.bench.processes import bench_env, cli, free_port

READY_SECONDS = 120.0
WORDS = [
    "river",
    "mountain",
    "engine",
    "garden",
    "harbor",
    "castle",
    "forest",
    "planet",
    "rocket",
    "violin",
    "copper",
    "marble",
    "tiger",
    "falcon",
    "lantern",
    "orchard",
    "canyon",
    "glacier",
    "meadow",
    "thunder",
    "comet",
    "island",
    "desert",
    "valley",
    "bridge",
    "tunnel",
    "market",
    "temple",
    "candle",
    "mirror",
    "pepper",
    "saffron",
    "basil",
    "cedar",
    "maple",
    "willow",
    "granite",
    "quartz",
    "basalt",
    "crystal",
    "anchor",
    "compass",
    "sextant",
    "voyage",
    "lagoon",
    "piano",
    "cello",
    "trumpet",
    "rhythm",
    "melody",
    "orbit",
    "nebula",
    "galaxy",
    "crater",
    "meteor",
    "pebble",
    "boulder",
    "summit",
    "ridge",
    "delta",
    "parrot",
    "otter",
    "beaver",
    "badger",
    "heron",
    "salmon",
    "walrus",
    "lizard",
    "beetle",
    "spider",
    "lemon",
    "ginger",
    "cumin",
    "nutmeg",
    "vanilla",
    "silver",
    "amber",
    "cobalt",
    "ivory",
    "scarlet",
    "indigo",
    "emerald",
    "crimson",
    "bronze",
    "velvet",
    "cotton",
    "linen",
    "silk",
    "wool",
    "leather",
]
FIELDS = [
    {"name": "title", "type": "text"},
    {"name": "body", "type": "text"},
    {"name": "category", "type": "keyword"},
    {"name": "price", "type": "number"},
    {"name": "published", "type": "date"},
]
CATEGORIES = ("astronomy", "botany", "cooking", "geology", "music", "sailing", "travel", "zoology")


def documents(count: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        out.append(
            {
                "id": f"s{seed}-{i}",
                "fields": {
                    "title": " ".join(rng.choices(WORDS, k=3)),
                    "body": " ".join(rng.choices(WORDS, k=rng.randint(12, 20))),
                    "category": CATEGORIES[i % len(CATEGORIES)],
                    "price": float(rng.randint(1, 100_000)) / 100,
                    "published": f"20{rng.randint(10, 25)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}T00:00:00Z",
                },
            }
        )
    return out


def query_texts(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.sample(WORDS, 2)) for _ in range(count)]


class DirectTantivy:
    """The server's tantivy index, opened by this process for reading, queried with tantivy's own API."""

    def __init__(self, directory: Path) -> None:
        schema = IndexSchema.model_validate_json((directory / "schema.json").read_text())
        self.index = tantivy.Index.open(str(directory / "tantivy"))
        self.index.register_tokenizer(tokenizer_name(schema), analyzer_of(schema))
        self.schema = self.index.schema

    def run(self, text: str) -> int:
        searcher = self.index.searcher()
        query = self.index.parse_query(" ".join(f"+{word}" for word in text.split()), ["title", "body"])
        found = searcher.search(query, 10)
        snippets = tantivy.SnippetGenerator.create(searcher, query, self.schema, "body")
        for _, address in found.hits:
            snippets.snippet_from_doc(searcher.doc(address)).to_html()
        return len(found.hits)

    async def query(self, text: str) -> int:
        return await anyio.to_thread.run_sync(self.run, text)


class DirectPostgres:
    """The server's PostgreSQL table, queried with the statement the server sends, through asyncpg."""

    def __init__(self, dsn: str, schema: str, index: str) -> None:
        self.dsn = dsn
        self.table = f'"{schema}"."ix_{index}"'
        self.pool: asyncpg.Pool | None = None

    async def open(self) -> None:
        self.pool = await asyncpg.create_pool(self.dsn, min_size=1, max_size=8)

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()

    async def query(self, text: str) -> int:
        assert self.pool is not None
        rows = await self.pool.fetch(
            "SELECT p.id, ts_headline('english'::regconfig, coalesce(p.doc->>'body', ''), p.tsq, "
            "'StartSel=<b>, StopSel=</b>, MaxWords=28, MinWords=10, MaxFragments=1') FROM ("
            f"SELECT t.id, t.doc, q.tsq, ts_rank(tsv_all, q.tsq) AS score FROM {self.table} t, "
            "(SELECT plainto_tsquery('english'::regconfig, $1) AS tsq) q WHERE tsv_all @@ q.tsq "
            "ORDER BY score DESC, t.id LIMIT 10) p",
            text,
        )
        return len(rows)


@contextmanager
def search_server(tmp: Path, search: dict[str, Any]) -> Iterator[tuple[str, Path]]:
    """``mcp-suite serve search`` over HTTP with the ``search`` section given; yields (MCP URL, data dir)."""
    port = free_port()
    tmp.mkdir(parents=True, exist_ok=True)
    config = tmp / "search.yaml"
    config.write_text(yaml.safe_dump({"search": {"port": port, **search}}))
    data_dir = tmp / "data"
    log_path = tmp / "search.log"
    argv = cli("serve", "search", "--transport", "http", "--port", str(port), "--config", str(config))
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, env=bench_env(str(data_dir)), stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + READY_SECONDS
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"the search server exited with {process.returncode}: {log_path.read_text()[-2000:]}"
                )
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the search server was not ready within {READY_SECONDS:.0f}s")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp", data_dir
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
