"""Helpers for the search tests: settings over both real engines, a PostgreSQL schema per session, a corpus."""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from mcp import Client

from mesh.config import Settings
from servers.search.server import build_server
from suite.bench.search_corpus import CATEGORIES, FIELDS, WORDS
from suite.settings import SuiteSettings
from tests.support.tool_results import data as data
from tests.support.tool_results import text_of as text_of

BACKENDS = ("tantivy", "postgres", "opensearch")
MODES = ("legacy", "auto")
POSTGRES_DSN = os.environ.get("SEARCH_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
OPENSEARCH_URL = os.environ.get("OPENSEARCH_URL")
"""A live cluster for the opensearch backend; without it the tests drive ``opensearch_double``."""


def session_schema() -> str:
    """A PostgreSQL schema no other test run uses (engineers share the ``test`` database)."""
    return f"search_test_{uuid.uuid4().hex[:12]}"


async def drop_schema(schema: str) -> None:
    connection = await asyncpg.connect(POSTGRES_DSN)
    try:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await connection.close()


def suite_settings(data_dir: Path, schema: str, **search: Any) -> Settings:
    """tantivy under ``data_dir``, PostgreSQL in ``schema``, OpenSearch indexes prefixed with it, and ``search`` keys."""
    section: dict[str, Any] = {
        "backends": {
            "tantivy": {"kind": "tantivy"},
            "postgres": {"kind": "postgres", "dsn": POSTGRES_DSN, "schema_name": schema},
            "opensearch": {
                "kind": "opensearch",
                "url": OPENSEARCH_URL or "http://opensearch-double:9200",
                "index_prefix": f"{schema}-",
            },
        },
        **search,
    }
    return SuiteSettings(data_dir=data_dir, search=section)


@asynccontextmanager
async def connect(settings: Settings, mode: str = "auto", **client: Any) -> AsyncIterator[Client]:
    async with Client(build_server(settings), mode=mode, **client) as session:
        yield session


CORPUS_FIELDS = FIELDS
VOCABULARY = WORDS
RARE_WORD = "zephyr"
BASE_DATE = datetime(2020, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class CorpusDoc:
    id: str
    title: list[str]
    body: list[str]
    category: str
    price: float
    published: datetime

    def fields(self) -> dict[str, Any]:
        return {
            "title": " ".join(self.title),
            "body": " ".join(self.body),
            "category": self.category,
            "price": self.price,
            "published": self.published.isoformat().replace("+00:00", "Z"),
        }

    def words(self) -> list[str]:
        return self.title + self.body


def make_corpus(size: int = 2400, seed: int = 20) -> list[CorpusDoc]:
    """``size`` documents of the same length: unique prices and dates, eight categories, a rare word in five."""
    rng = random.Random(seed)
    docs = []
    for i in range(size):
        title = rng.sample(VOCABULARY, 3)
        body = rng.sample(VOCABULARY, 12)
        if i % 480 == 7:
            body[0] = body[5] = RARE_WORD
            title[0] = RARE_WORD
        docs.append(
            CorpusDoc(
                id=f"doc-{i:05d}",
                title=title,
                body=body,
                category=CATEGORIES[rng.randrange(len(CATEGORIES))],
                price=float((i * 7919) % 100_003) / 10,
                published=BASE_DATE + timedelta(hours=(i * 4327) % 50_000),
            )
        )
    return docs


def contains_phrase(words: list[str], phrase: list[str]) -> bool:
    return any(words[i : i + len(phrase)] == phrase for i in range(len(words) - len(phrase) + 1))
