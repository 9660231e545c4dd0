"""build_store: the store ``memory.store`` names, configured from its settings section."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from servers.memory.settings import MemorySettings
from servers.memory.store.factory import build_store
from servers.memory.store.neo4j.store import Neo4jGraphStore
from servers.memory.store.postgres.store import PostgresGraphStore
from servers.memory.store.redis.store import RedisGraphStore
from servers.memory.store.sqlite.store import SqliteGraphStore

pytestmark = pytest.mark.anyio


async def test_each_store_is_built_from_its_own_section(tmp_path: Path) -> None:
    redis = build_store(
        MemorySettings(store="redis", redis={"url": "redis://cache:6380/2", "key_prefix": "x:", "ttl_seconds": 60}),
        tmp_path,
    )
    neo4j = build_store(
        MemorySettings(store="neo4j", neo4j={"uri": "neo4j://graph:7687", "password": "pw", "database": "mem"}),
        tmp_path,
    )
    postgres = build_store(MemorySettings(store="postgres"), tmp_path)
    sqlite = build_store(MemorySettings(), tmp_path)
    assert isinstance(redis, RedisGraphStore)
    assert (redis.keys.prefix, redis.ttl_seconds, redis.address) == ("x:", 60, "cache:6380")
    assert isinstance(neo4j, Neo4jGraphStore) and (neo4j.uri, neo4j.database) == ("neo4j://graph:7687", "mem")
    assert isinstance(postgres, PostgresGraphStore)
    assert isinstance(sqlite, SqliteGraphStore) and sqlite.path == tmp_path / "memory" / "memory.db"
    await redis.close()


def test_an_unknown_store_or_a_bad_ttl_is_refused_by_the_settings() -> None:
    with pytest.raises(ValidationError):
        MemorySettings(store="mongodb")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        MemorySettings(store="redis", redis={"ttl_seconds": 0})
