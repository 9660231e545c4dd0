"""Helpers for the memory tests: settings over the real stores (SQLite file, PostgreSQL schema, Redis prefix)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from mcp import Client

from mesh.config import Settings
from servers.kit.embedders.factory import EmbedderSet
from servers.kit.embedders.settings import EmbedderSettings
from servers.memory.server import build_server
from servers.memory.service import MemoryService
from servers.memory.settings import memory_settings
from servers.memory.store.postgres.store import PostgresGraphStore
from servers.runtime.protocol_features import add_protocol_features
from suite.settings import SuiteSettings
from tests.support.tool_results import data as data
from tests.support.tool_results import text_of as text_of

NEO4J_LIVE = bool(os.environ.get("NEO4J_URI"))
STORES = ("sqlite", "postgres", "redis", "neo4j", *(("neo4j-live",) if NEO4J_LIVE else ()))
"""``neo4j`` runs on the driver double (tests/support/neo4j_memory_double.py); ``neo4j-live`` on NEO4J_URI."""
MODES = ("legacy", "auto")
POSTGRES_DSN = os.environ.get("MEMORY_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
SCHEMA = f"memory_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
"""One schema per test session: other engineers' tests share the `test` database; dropped at the end."""
REDIS_URL = os.environ.get("MEMORY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REDIS_PREFIX = f"mcp-suite-test:memory:{os.getpid()}-{uuid.uuid4().hex[:6]}:"
"""One key prefix per test session (other engineers' tests share the Redis); its keys are deleted at the end."""

_EMBEDDERS: EmbedderSet | None = None


def shared_embedders() -> EmbedderSet:
    """One local embedder set for the whole session: the model loads once."""
    global _EMBEDDERS
    if _EMBEDDERS is None:
        _EMBEDDERS = EmbedderSet({"default": EmbedderSettings()}, None, section="memory")
    return _EMBEDDERS


MADE_NAMESPACES: set[str] = set()
"""Every namespace a test made: the live Neo4j run deletes them at the end of the session."""


def fresh_namespace() -> str:
    name = f"t{uuid.uuid4().hex[:12]}"
    MADE_NAMESPACES.add(name)
    return name


def store_section(store: str, data_dir: Path) -> dict[str, Any]:
    if store == "postgres":
        return {"store": "postgres", "postgres": {"dsn": POSTGRES_DSN, "schema_name": SCHEMA, "max_connections": 4}}
    if store == "neo4j":
        return {"store": "neo4j", "neo4j": {"uri": "neo4j://neo4j-double:7687", "password": "double"}}
    if store == "neo4j-live":
        return {"store": "neo4j"}  # uri, user and password from NEO4J_URI, NEO4J_USER, NEO4J_PASSWORD
    if store == "redis":
        return {"store": "redis", "redis": {"url": REDIS_URL, "key_prefix": REDIS_PREFIX, "max_connections": 8}}
    return {"store": "sqlite", "sqlite": {"path": str(data_dir / "memory.db")}}


def suite_settings(store: str, data_dir: Path, **memory: Any) -> Settings:
    """The memory server on ``store`` in a namespace of its own (PostgreSQL tables are shared by the session)."""
    section: dict[str, Any] = {
        **store_section(store, data_dir),
        "default_namespace": fresh_namespace(),
        "recall_vectors": False,
        **memory,
    }
    return SuiteSettings(data_dir=data_dir, memory=section)


def service_for(settings: Settings) -> MemoryService:
    return MemoryService(memory_settings(settings), settings.data_dir, embedders=shared_embedders())


@asynccontextmanager
async def scratch_postgres_store(prefix: str) -> AsyncIterator[PostgresGraphStore]:
    """A PostgreSQL store on one connection, in a schema of its own (``prefix`` and a random suffix) dropped after."""
    opened = PostgresGraphStore(POSTGRES_DSN, f"{prefix}_{uuid.uuid4().hex[:10]}", min_size=1, max_size=1)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.drop_schema()
        await opened.close()


@asynccontextmanager
async def connect(settings: Settings, mode: str = "auto", **client: Any) -> AsyncIterator[Client]:
    server = build_server(settings)
    add_protocol_features(server)  # as `mcp-suite serve` does: resources/subscribe for handshake-era sessions
    async with Client(server, mode=mode, **client) as session:
        yield session


def entity(name: str, entity_type: str = "person", *observations: str) -> dict[str, Any]:
    return {"name": name, "entityType": entity_type, "observations": list(observations)}


def relation(source: str, target: str, relation_type: str) -> dict[str, str]:
    return {"from": source, "to": target, "relationType": relation_type}
