"""The graph store ``memory.store`` names, built from its settings (nothing is opened here)."""

from __future__ import annotations

from pathlib import Path

from servers.memory.settings import MemorySettings
from servers.memory.store.base import GraphStore


def build_store(settings: MemorySettings, data_dir: Path) -> GraphStore:
    """The store of ``settings.store``; the SQLite file defaults to ``<data_dir>/memory/memory.db``."""
    if settings.store == "postgres":
        from servers.memory.store.postgres.store import PostgresGraphStore

        pg = settings.postgres
        return PostgresGraphStore(
            pg.dsn,
            pg.schema_name,
            min_size=pg.min_connections,
            max_size=pg.max_connections,
            connect_timeout=pg.connect_timeout_seconds,
        )
    if settings.store == "redis":
        from servers.memory.store.redis.store import RedisGraphStore

        return RedisGraphStore.from_settings(settings.redis)
    if settings.store == "neo4j":
        from servers.memory.store.neo4j.store import Neo4jGraphStore

        return Neo4jGraphStore.from_settings(settings.neo4j)
    from servers.memory.store.sqlite.store import SqliteGraphStore

    path = Path(settings.sqlite.path) if settings.sqlite.path else data_dir / "memory" / "memory.db"
    return SqliteGraphStore(path, settings.sqlite.busy_timeout_ms)
