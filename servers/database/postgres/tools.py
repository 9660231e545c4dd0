"""PostgreSQL-only tools: the costliest statements and a health summary. Listed when a PostgreSQL connection exists."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server import MCPServer
from pydantic import Field

from servers.database.engine_registry import Engines
from servers.database.postgres import operations
from servers.database.postgres.models import DbHealth, TopQueries
from servers.database.tools_read import READ_ONLY

PostgresConnection = Annotated[
    str | None,
    Field(max_length=64, description="a PostgreSQL connection; default: the first PostgreSQL connection"),
]


def register_postgres_tools(server: MCPServer[Any], engines: Engines) -> None:
    @server.tool(annotations=READ_ONLY)
    async def top_queries(
        connection: PostgresConnection = None,
        order_by: Annotated[
            Literal["total_time", "mean_time", "calls"], Field(description="rank by total time, mean time or calls")
        ] = "total_time",
        limit: Annotated[int, Field(ge=1, le=100, description="statements to return")] = 10,
    ) -> TopQueries:
        """The costliest statements from pg_stat_statements; says how to enable it when it is not installed."""
        return await operations.top_queries(engines.postgres(connection), order_by, limit)

    @server.tool(annotations=READ_ONLY)
    async def db_health(
        connection: PostgresConnection = None,
        long_transaction_seconds: Annotated[
            float, Field(ge=1, le=86_400, description="report transactions open longer than this")
        ] = 60.0,
    ) -> DbHealth:
        """PostgreSQL health: connections used/max, cache hit ratio, vacuum/bloat hints, long-running transactions."""
        return await operations.db_health(engines.postgres(connection), long_transaction_seconds)
