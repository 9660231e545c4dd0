"""The database server: named connections (PostgreSQL, SQLite, Redis, Neo4j) behind one safe tool surface.

``build_server(settings)`` wires the pieces: the SQL engines (:mod:`.engine_registry`), the read tools
(:mod:`.tools_read`), ``sql_execute`` only when some SQL connection is writable
(:mod:`.tools_write`), the PostgreSQL extras when a PostgreSQL connection exists
(:mod:`.postgres.tools`), schema resources and prompts, and the Redis and Neo4j tools (their
modules are imported only when such connections are configured). With no connection configured
the server has one: ``workspace``, a read-write SQLite scratch database under the data dir.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import asyncpg  # type: ignore[import-untyped]
from mcp.server import MCPServer

from mesh.config import Settings
from servers.database.connections import WORKSPACE, ConnectionSet, NamedConnection
from servers.database.engine_registry import Engines
from servers.database.postgres.engine import PostgresEngine
from servers.database.postgres.tools import register_postgres_tools
from servers.database.prompts import register_prompts
from servers.database.resources import SchemaCache, register_resources
from servers.database.settings import DatabaseConnection, body_limit, database_settings
from servers.database.sqlite.engine import sqlite_path
from servers.database.tools_read import register_connection_tools, register_read_tools
from servers.database.tools_write import register_write_tools
from servers.database.url_redaction import redact
from servers.kit.tool_errors import code_tool_errors
from servers.runtime.completion import add_completer
from servers.runtime.definition import Readiness, ServerDefinition

log = logging.getLogger("mcp_suite.database")

INSTRUCTIONS = """\
Databases behind named connections (list_connections shows them: engine, access mode, URL without
secrets). SQL: list_tables / describe_table (or the db://<connection>/schema resource) to learn the
schema, sql_query for one read-only statement with params and cursor pagination, sql_explain for
plans, sql_execute for writes (read_write connections only; preview=true first). Every call takes
`connection`; the default is the first SQL connection."""

READINESS_TIMEOUT = 3.0


def build_server(settings: Settings) -> MCPServer[Any]:
    """The database MCP server for ``settings`` (write tools only when some connection allows writes)."""
    engines = Engines(settings)
    server: MCPServer[Any] = MCPServer(
        name="database",
        title="mcp-suite database",
        instructions=INSTRUCTIONS,
        version="0.1.0",
        lifespan=engines.lifespan,
    )
    register_connection_tools(server, engines)
    if engines.sql:
        register_read_tools(server, engines)
        if any(e.connection.writable for e in engines.sql.values()):
            register_write_tools(server, engines)
        if any(isinstance(e, PostgresEngine) for e in engines.sql.values()):
            register_postgres_tools(server, engines)
        cache = SchemaCache(engines)
        register_resources(server, engines, cache)
        register_prompts(server, engines, cache)
        names = sorted(engines.sql)

        async def sql_connections(prefix: str, _given: Mapping[str, str]) -> list[str]:
            return [name for name in names if name.startswith(prefix)]

        add_completer(server, "connection", sql_connections)  # the prompts' and db:// templates' connection
    _register_other_engines(server, engines.connections)
    code_tool_errors(server)
    return server


def _register_other_engines(server: MCPServer[Any], connections: ConnectionSet) -> None:
    redis = {n: c.config for n, c in connections.of_engine("redis").items()}
    if redis:
        try:
            from servers.database.redis.tools import register_redis_tools
        except ImportError:
            log.warning("redis connections are configured but the redis tools are not available in this build")
        else:
            register_redis_tools(server, redis)
    neo4j = {n: c.config for n, c in connections.of_engine("neo4j").items()}
    if neo4j:
        try:
            from servers.database.neo4j.tools import register_neo4j_tools
        except ImportError:
            log.warning("neo4j connections are configured but the neo4j tools are not available in this build")
        else:
            register_neo4j_tools(server, neo4j)


async def readiness(settings: Settings) -> Readiness:
    """Each connection checked (a login and a trivial query); none configured = the embedded workspace is ready."""
    connections = ConnectionSet.from_settings(settings)
    checks: dict[str, str] = {}
    ready = True
    for name, connection in connections.all.items():
        try:
            with anyio.fail_after(READINESS_TIMEOUT + 1):
                ok, line = await _check(
                    connection, workspace=not database_settings(settings).connections and name == WORKSPACE
                )
        except TimeoutError:
            ok, line = False, f"no answer within {READINESS_TIMEOUT:.0f}s"
        checks[f"connection {name}"] = redact(line, connection.secrets)
        ready = ready and ok
    return Readiness(ready=ready, checks=checks)


async def _check(connection: NamedConnection, *, workspace: bool) -> tuple[bool, str]:
    engine = connection.engine
    if engine == "postgres":
        return await _check_postgres(connection)
    if engine == "sqlite":
        return await anyio.to_thread.run_sync(_check_sqlite, connection, workspace)
    module, function = ("redis.tools", "redis_readiness") if engine == "redis" else ("neo4j.tools", "neo4j_readiness")
    try:
        imported = __import__(f"servers.database.{module}", fromlist=[function])
    except ImportError:
        return False, f"{engine} support is not available in this build"
    check: Callable[[str, DatabaseConnection], Awaitable[tuple[bool, str]]] = getattr(imported, function)
    return await check(connection.name, connection.config)


async def _check_postgres(connection: NamedConnection) -> tuple[bool, str]:
    try:
        conn = await asyncpg.connect(connection.url, timeout=READINESS_TIMEOUT)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError, ValueError) as exc:
        return False, f"cannot connect: {type(exc).__name__}: {exc}"
    try:
        version = await conn.fetchval("SHOW server_version", timeout=READINESS_TIMEOUT)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        return False, f"query failed: {type(exc).__name__}: {exc}"
    finally:
        await conn.close(timeout=READINESS_TIMEOUT)
    return True, f"ok (postgres {version}, {connection.access})"


def _check_sqlite(connection: NamedConnection, workspace: bool) -> tuple[bool, str]:
    try:
        path = Path(sqlite_path(connection.url))
    except ValueError as exc:
        return False, str(exc)
    if workspace and not path.exists():
        return True, f"ok (sqlite workspace, created on first use, {connection.access})"
    if not path.is_file():
        return False, f"database file {path} does not exist"
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=READINESS_TIMEOUT)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return False, f"cannot read: {exc}"
    return True, f"ok (sqlite, {connection.access})"


def apply_arguments(settings: Settings, words: Sequence[str]) -> Settings:
    """No positional arguments: connections come from the config file or MCP_SUITE_DATABASE__CONNECTIONS."""
    if words:
        raise ValueError(
            f"the database server takes no positional arguments (got {' '.join(words)!r}); "
            "configure connections under database.connections in the config file"
        )
    return settings


def port_of(settings: Settings) -> int:
    return database_settings(settings).port


DEFINITION = ServerDefinition(
    name="database",
    build=build_server,
    readiness=readiness,
    apply_arguments=apply_arguments,
    port_of=port_of,
    body_limit=body_limit,
)
