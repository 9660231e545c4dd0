"""Schema resources: ``db://<connection>/schema`` and ``db://<connection>/tables/<table>``, compact text.

The schema resource lists each table on one line with its columns (``*`` marks the primary key)
so that a model sees the whole database in a few hundred tokens; the table resource adds keys and
indexes. Both are cached for ``database.schema_cache_seconds``.
"""

from __future__ import annotations

import time
from typing import Any

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError

from servers.database.engine_registry import Engines
from servers.database.errors import DbError
from servers.database.settings import database_settings
from servers.database.sql.models import TableDescription

SCHEMA_TABLES = 200


def render_table(description: TableDescription, *, detail: bool) -> str:
    columns = ", ".join(
        f"{c.name}{'*' if c.primary_key else ''} {c.type}{'' if c.nullable or c.primary_key else ' not null'}"
        for c in description.columns
    )
    rows = "" if description.row_estimate is None else f"  ~{description.row_estimate} rows"
    head = f"{description.schema_name}.{description.table} ({columns}){rows}"
    if not detail:
        return head
    lines = [head]
    if description.kind != "table":
        lines.append(f"  kind: {description.kind}")
    for fk in description.foreign_keys:
        lines.append(f"  fk ({', '.join(fk.columns)}) -> {fk.references_table}({', '.join(fk.references_columns)})")
    for index in description.indexes:
        unique = "unique " if index.unique else ""
        lines.append(f"  {unique}index {index.name} ({', '.join(index.columns)})")
    for column in description.columns:
        if column.default is not None:
            lines.append(f"  default {column.name} = {column.default}")
        if column.comment:
            lines.append(f"  -- {column.name}: {column.comment}")
    if description.comment:
        lines.append(f"  -- {description.comment}")
    return "\n".join(lines)


class SchemaCache:
    """Rendered schema texts by key, each kept for ``ttl`` seconds."""

    def __init__(self, engines: Engines) -> None:
        self.engines = engines
        self.ttl = database_settings(engines.settings).schema_cache_seconds
        self._texts: dict[tuple[str, ...], tuple[float, str]] = {}

    def _cached(self, key: tuple[str, ...]) -> str | None:
        hit = self._texts.get(key)
        return hit[1] if hit and hit[0] > time.monotonic() else None

    def _store(self, key: tuple[str, ...], text: str) -> str:
        if self.ttl > 0:
            self._texts[key] = (time.monotonic() + self.ttl, text)
        return text

    async def schema_text(self, connection: str) -> str:
        key = ("schema", connection)
        cached = self._cached(key)
        if cached is not None:
            return cached
        engine = self.engines.engine(connection)
        listing = await engine.list_tables(None, None, SCHEMA_TABLES, None)
        lines = [f"-- {engine.connection.engine} connection {connection!r} ({engine.connection.access})"]
        for table in listing.tables:
            description = await engine.describe_table(table.name, table.schema_name)
            lines.append(render_table(description, detail=False))
        if listing.next_cursor:
            lines.append(f"-- more than {SCHEMA_TABLES} tables: use `list_tables` to page through the rest")
        if not listing.tables:
            lines.append("-- no tables yet")
        return self._store(key, "\n".join(lines))

    async def table_text(self, connection: str, table: str) -> str:
        key = ("table", connection, table)
        cached = self._cached(key)
        if cached is not None:
            return cached
        description = await self.engines.engine(connection).describe_table(table, None)
        return self._store(key, render_table(description, detail=True))


def register_resources(server: MCPServer[Any], engines: Engines, cache: SchemaCache) -> None:
    @server.resource(
        "db://{connection}/schema",
        name="database schema",
        title="Tables and columns of a connection",
        mime_type="text/plain",
    )
    async def schema(connection: str) -> str:
        """Every table of the connection on one line: columns with types, * for primary key, row estimate."""
        try:
            return await cache.schema_text(connection)
        except DbError as exc:
            raise ResourceError(str(exc)) from None

    @server.resource(
        "db://{connection}/tables/{table}",
        name="database table",
        title="One table in detail",
        mime_type="text/plain",
    )
    async def table(connection: str, table: str) -> str:
        """One table: columns, foreign keys, indexes, defaults and comments."""
        try:
            return await cache.table_text(connection, table)
        except DbError as exc:
            raise ResourceError(str(exc)) from None
