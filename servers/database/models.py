"""The server-wide results: the connections list (each model becomes the tool's outputSchema)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ConnectionInfo(BaseModel):
    name: str
    engine: Literal["postgres", "sqlite", "redis", "neo4j"]
    access: Literal["read_only", "read_write", "admin"]
    url: str = Field(description="the connection URL without its password or secret query values")
    statement_timeout_ms: int
    max_rows: int
    max_bytes: int


class ConnectionList(BaseModel):
    connections: list[ConnectionInfo]
    default_sql_connection: str | None = Field(description="what SQL tools use when `connection` is omitted")
