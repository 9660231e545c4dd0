"""The write tool, ``sql_execute``: listed only when some SQL connection is read_write or admin."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server import MCPServer
from mcp.types import ToolAnnotations
from pydantic import Field

from servers.database.engine_registry import Engines
from servers.database.sql.models import ExecuteResult
from servers.database.tools_read import Params

WritableConnection = Annotated[
    str | None,
    Field(max_length=64, description="a read_write or admin connection; default: the first writable SQL connection"),
]

WRITE = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=False)


def register_write_tools(server: MCPServer[Any], engines: Engines) -> None:
    @server.tool(annotations=WRITE)
    async def sql_execute(
        sql: Annotated[str, Field(min_length=1, max_length=100_000, description="one statement that changes data")],
        connection: WritableConnection = None,
        params: Params = None,
        preview: Annotated[
            bool, Field(description="show the plan and the rows it would touch without changing anything")
        ] = False,
    ) -> ExecuteResult:
        """Run one data-changing statement (INSERT, UPDATE, DELETE, MERGE, table DDL) in its own transaction.

        Returns the rows affected (and RETURNING rows). Call with preview=true first to see the plan
        and the estimated rows. read_only connections refuse it; server-level statements (roles,
        COPY, DO, VACUUM, ALTER SYSTEM) need an admin connection.
        """
        return await engines.writable_engine(connection).execute(sql, params or [], preview)
