"""The read tools: connections, schemas, tables, queries and plans. Listed on every server with SQL connections."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server import MCPServer
from mcp.types import ToolAnnotations
from pydantic import Field

from servers.database.engine_registry import Engines
from servers.database.models import ConnectionInfo, ConnectionList
from servers.database.sql.models import (
    ExplainResult,
    QueryResult,
    SchemaList,
    TableDescription,
    TableList,
)

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)

Params = Annotated[
    list[Any] | None,
    Field(
        max_length=100,
        description="values bound to $1, $2... (PostgreSQL) or ? (SQLite), in order; dates as ISO 8601 text",
    ),
]
Cursor = Annotated[str | None, Field(description="next_cursor of the previous page; omit for the first page")]


Connection = Annotated[
    str | None,
    Field(max_length=64, description="connection name (list_connections shows them); default: the first SQL one"),
]


def register_connection_tools(server: MCPServer[Any], engines: Engines) -> None:
    @server.tool(annotations=READ_ONLY)
    async def list_connections() -> ConnectionList:
        """List every database connection: name, engine, access mode, URL without secrets, budgets."""
        infos = [
            ConnectionInfo(
                name=c.name,
                engine=c.config.engine,
                access=c.config.access,
                url=c.public_url,
                statement_timeout_ms=c.config.statement_timeout_ms,
                max_rows=c.config.max_rows,
                max_bytes=c.config.max_bytes,
            )
            for c in engines.connections.all.values()
        ]
        return ConnectionList(connections=infos, default_sql_connection=engines.default_sql)


def register_read_tools(server: MCPServer[Any], engines: Engines) -> None:
    @server.tool(annotations=READ_ONLY)
    async def list_schemas(connection: Connection = None) -> SchemaList:
        """List the schemas of a SQL connection (PostgreSQL schemas, SQLite attached databases) with table counts."""
        return await engines.engine(connection).list_schemas()

    @server.tool(annotations=READ_ONLY)
    async def list_tables(
        connection: Connection = None,
        schema: Annotated[str | None, Field(description="only this schema (default: all user schemas)")] = None,
        pattern: Annotated[str | None, Field(max_length=200, description="name filter, SQL LIKE: 'order%'")] = None,
        limit: Annotated[int, Field(ge=1, le=1000, description="tables per page")] = 200,
        cursor: Cursor = None,
    ) -> TableList:
        """List tables and views with their kind and estimated row count; paginated."""
        return await engines.engine(connection).list_tables(schema, pattern, limit, cursor)

    @server.tool(annotations=READ_ONLY)
    async def describe_table(
        table: Annotated[str, Field(min_length=1, max_length=200, description="table name, or schema.table")],
        connection: Connection = None,
        schema: Annotated[str | None, Field(description="schema (default: the search path / main)")] = None,
    ) -> TableDescription:
        """Describe a table: columns (type, nullability, default), primary and foreign keys, indexes, row estimate."""
        return await engines.engine(connection).describe_table(table, schema)

    @server.tool(annotations=READ_ONLY)
    async def sql_query(
        sql: Annotated[str, Field(min_length=1, max_length=100_000, description="one read-only SQL statement")],
        connection: Connection = None,
        params: Params = None,
        limit: Annotated[int, Field(ge=1, le=100_000, description="rows per page (capped by the connection)")] = 100,
        cursor: Cursor = None,
    ) -> QueryResult:
        """Run one read-only statement (SELECT, VALUES, TABLE, SHOW, EXPLAIN) and return a page of rows.

        Always read-only, on every connection: writes, transaction control, SET, COPY, DO, locking
        clauses and side-effect functions are refused. Pass values with `params`, never by pasting
        them into the SQL. When next_cursor is set, call again with the same sql/params and that
        cursor for the next page; ORDER BY a unique column makes later pages as cheap as the first.
        """
        return await engines.engine(connection).query(sql, params or [], limit, cursor)

    @server.tool(annotations=READ_ONLY)
    async def sql_explain(
        sql: Annotated[str, Field(min_length=1, max_length=100_000, description="the statement to plan")],
        connection: Connection = None,
        params: Params = None,
        analyze: Annotated[
            bool,
            Field(description="run it and report actual times (only on read_write/admin connections; rolled back)"),
        ] = False,
    ) -> ExplainResult:
        """Show the query plan of a statement (EXPLAIN); with analyze=true the actual rows and timings.

        ANALYZE runs the statement, so it is refused on read_only connections; a data change is run
        inside a transaction that is rolled back.
        """
        return await engines.engine(connection).explain(sql, params or [], analyze)
