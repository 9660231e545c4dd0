"""Prompts: write a query for a question, explain a slow query, design a table; each with the schema in view."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server import MCPServer
from pydantic import Field

from servers.database.engine_registry import Engines
from servers.database.errors import DbError
from servers.database.resources import SchemaCache


def register_prompts(server: MCPServer[Any], engines: Engines, cache: SchemaCache) -> None:
    async def schema_of(connection: str | None) -> tuple[str, str, str]:
        engine = engines.engine(connection)
        name = engine.connection.name
        try:
            text = await cache.schema_text(name)
        except DbError as exc:
            text = f"(the schema could not be read: {exc})"
        dialect = "PostgreSQL" if engine.connection.engine == "postgres" else "SQLite"
        return name, dialect, text

    @server.prompt(title="Write a SQL query for a question")
    async def write_query(
        question: Annotated[str, Field(description="what you want to know, in plain words")],
        connection: Annotated[str | None, Field(description="connection name (default: the first SQL one)")] = None,
    ) -> str:
        """Write one read-only query answering a question, using this connection's schema."""
        name, dialect, schema = await schema_of(connection)
        return (
            f"Write one read-only {dialect} query that answers: {question}\n\n"
            f"Schema of connection {name!r} (* marks primary keys):\n{schema}\n\n"
            "Rules: one statement; pass literal values as $1, $2... (PostgreSQL) or ? (SQLite) in `params`; "
            "ORDER BY a unique column when the result may be long. Run it with the `sql_query` tool "
            f"(connection={name!r}) and check the first page before answering."
        )

    @server.prompt(title="Explain a slow query")
    async def explain_slow_query(
        sql: Annotated[str, Field(description="the slow statement")],
        connection: Annotated[str | None, Field(description="connection name (default: the first SQL one)")] = None,
    ) -> str:
        """Find out why a statement is slow from its plan, and propose indexes or rewrites."""
        name, dialect, schema = await schema_of(connection)
        engine = engines.engine(connection)
        try:
            plan = "\n".join((await engine.explain(sql, [], False)).plan)
        except DbError as exc:
            plan = f"(no plan: {exc}; call `sql_explain` with the statement's params)"
        return (
            f"This {dialect} statement on connection {name!r} is slow:\n\n{sql}\n\nIts plan:\n{plan}\n\n"
            f"Schema:\n{schema}\n\n"
            "Explain where the time goes (sequential scans on large tables, bad row estimates, sorts, "
            "nested loops over many rows), then propose concrete fixes: indexes (as CREATE INDEX statements), "
            "rewrites, or statistics (ANALYZE). Use `sql_explain` with analyze=true only on a read_write "
            "connection, and compare plans before and after."
        )

    @server.prompt(title="Design a table")
    async def design_table(
        description: Annotated[str, Field(description="what the table should hold")],
        connection: Annotated[str | None, Field(description="connection name (default: the first SQL one)")] = None,
    ) -> str:
        """Design a table (columns, types, keys, indexes) that fits the existing schema."""
        name, dialect, schema = await schema_of(connection)
        return (
            f"Design a {dialect} table for: {description}\n\nExisting schema of connection {name!r}:\n{schema}\n\n"
            "Give the CREATE TABLE statement with types, NOT NULL and defaults, a primary key, foreign keys to "
            "the existing tables where they fit, and the indexes the expected queries need. Explain each choice "
            "briefly. To create it, use `sql_execute` with preview=true first, on a read_write connection."
        )
