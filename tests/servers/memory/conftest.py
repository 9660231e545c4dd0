"""Fixtures of the memory tests: every behaviour runs on each store, in both protocol eras."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from servers.memory.settings import Neo4jStoreSettings
from servers.memory.store.neo4j.driver import use_driver_factory
from servers.memory.store.neo4j.store import Neo4jGraphStore
from servers.memory.store.postgres.store import PostgresGraphStore
from servers.memory.store.redis.store import RedisGraphStore
from tests.servers.memory.support import (
    MADE_NAMESPACES,
    MODES,
    NEO4J_LIVE,
    POSTGRES_DSN,
    REDIS_PREFIX,
    REDIS_URL,
    SCHEMA,
    STORES,
)
from tests.support.neo4j_memory_double import Neo4jMemoryDouble


@pytest.fixture(params=STORES)
def store_kind(request: pytest.FixtureRequest) -> Iterator[str]:
    """The store a test runs on; ``neo4j`` drives a fresh driver double for the test's whole length."""
    kind = str(request.param)
    if kind != "neo4j":
        yield kind
        return
    with use_driver_factory(Neo4jMemoryDouble().factory):
        yield kind


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session", autouse=True)
def drop_memory_test_schema() -> Iterator[None]:
    """Remove the session's PostgreSQL schema afterwards (the tables are made by the first store opened)."""
    yield

    async def drop() -> None:
        store = PostgresGraphStore(POSTGRES_DSN, SCHEMA, min_size=0, max_size=1)
        try:
            await store.drop_schema()
        finally:
            await store.close()

    anyio.run(drop)


@pytest.fixture(scope="session", autouse=True)
def drop_memory_test_keys() -> Iterator[None]:
    """Delete the session's Redis keys afterwards (every Redis test store writes under its prefix)."""
    yield

    async def drop() -> None:
        store = RedisGraphStore(REDIS_URL, REDIS_PREFIX)
        try:
            await store.drop_prefix()
        finally:
            await store.close()

    anyio.run(drop)


@pytest.fixture(scope="session", autouse=True)
def drop_live_neo4j_namespaces() -> Iterator[None]:
    """On a live Neo4j (NEO4J_URI), delete the namespaces the session's tests made."""
    yield
    if not NEO4J_LIVE or not MADE_NAMESPACES:
        return

    async def drop() -> None:
        store = Neo4jGraphStore.from_settings(Neo4jStoreSettings())
        try:
            await store.drop_namespaces(sorted(MADE_NAMESPACES))
        finally:
            await store.close()

    anyio.run(drop)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"
