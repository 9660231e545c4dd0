"""The engines of one server, by connection name: created on first use, closed with the server's lifespan.

The lifespan is entered once per HTTP server and once per in-memory or stdio session; a count
keeps the pools open until the last user leaves, then every pool is closed.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from mesh.config import Settings
from servers.database.connections import WORKSPACE, ConnectionSet, NamedConnection
from servers.database.errors import DbError
from servers.database.postgres.engine import PostgresEngine
from servers.database.settings import database_settings
from servers.database.sql.engine_protocol import SqlEngine
from servers.database.sqlite.engine import SqliteEngine

_LAZY_CLOSERS = (
    ("servers.database.redis.client", "close_redis_clients"),
    ("servers.database.neo4j.driver", "close_neo4j_drivers"),
)


def make_engine(connection: NamedConnection, pool_size: int, *, workspace: bool = False) -> SqlEngine:
    if connection.engine == "postgres":
        engine: SqlEngine = PostgresEngine(connection, pool_size)
        return engine
    return SqliteEngine(connection, pool_size, create=workspace)


class Engines:
    """Every SQL connection's engine, and the lifespan that closes their pools."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.connections = ConnectionSet.from_settings(settings)
        workspace = not database_settings(settings).connections
        self.sql: dict[str, SqlEngine] = {
            name: make_engine(c, database_settings(settings).pool_size, workspace=workspace and name == WORKSPACE)
            for name, c in self.connections.sql.items()
        }
        self._users = 0

    def engine(self, name: str | None) -> SqlEngine:
        return self.sql[self.connections.sql_connection(name).name]

    def writable_engine(self, name: str | None) -> SqlEngine:
        return self.sql[self.connections.writable_sql_connection(name).name]

    def postgres(self, name: str | None) -> PostgresEngine:
        postgres = [n for n, e in self.sql.items() if isinstance(e, PostgresEngine)]
        engine = self.sql[postgres[0]] if not name and postgres else self.engine(name)
        if not isinstance(engine, PostgresEngine):
            raise DbError(
                "wrong_engine",
                f"connection {engine.connection.name!r} is {engine.connection.engine}; this tool needs PostgreSQL "
                f"(PostgreSQL connections: {', '.join(postgres) or 'none'})",
            )
        return engine

    @property
    def default_sql(self) -> str | None:
        return next(iter(self.sql), None)

    async def close(self) -> None:
        for engine in self.sql.values():
            await engine.close()
        # Redis clients and Neo4j drivers are opened lazily by their tool modules: close them too,
        # if those modules were ever loaded (a server without such connections never imports them).
        for module_name, closer in _LAZY_CLOSERS:
            module = sys.modules.get(module_name)
            if module is not None:
                await getattr(module, closer)()

    @asynccontextmanager
    async def lifespan(self, _server: Any) -> AsyncIterator[dict[str, Any]]:
        self._users += 1
        try:
            yield {}
        finally:
            self._users -= 1
            if self._users == 0:
                await self.close()
