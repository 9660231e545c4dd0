"""What every SQL engine offers the tools: the same calls for PostgreSQL and SQLite."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from servers.database.connections import NamedConnection
from servers.database.sql.models import (
    ExecuteResult,
    ExplainResult,
    QueryResult,
    SchemaList,
    TableDescription,
    TableList,
)


class SqlEngine(Protocol):
    """One SQL connection's engine. Every method raises :class:`~servers.database.errors.DbError` on failure."""

    connection: NamedConnection

    async def ping(self) -> str: ...

    async def close(self) -> None: ...

    async def list_schemas(self) -> SchemaList: ...

    async def list_tables(
        self, schema: str | None, pattern: str | None, limit: int, cursor: str | None
    ) -> TableList: ...

    async def describe_table(self, table: str, schema: str | None) -> TableDescription: ...

    async def query(self, sql: str, params: Sequence[Any], limit: int, cursor: str | None) -> QueryResult: ...

    async def explain(self, sql: str, params: Sequence[Any], analyze: bool) -> ExplainResult: ...

    async def execute(self, sql: str, params: Sequence[Any], preview: bool) -> ExecuteResult: ...
