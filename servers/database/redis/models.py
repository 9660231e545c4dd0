"""The structured results of the Redis tools (each becomes the tool's outputSchema)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, WithJsonSchema

OptStr = Annotated[str | None, WithJsonSchema({"type": ["string", "null"]})]
OptInt = Annotated[int | None, WithJsonSchema({"type": ["integer", "null"]})]
Reason = Annotated[Literal["max_rows", "max_bytes"] | None, WithJsonSchema({"enum": ["max_rows", "max_bytes", None]})]


class RedisCommandResult(BaseModel):
    """One command's reply as JSON: text, or ``{"base64": ...}`` for binary values."""

    connection: str
    command: str = Field(description="the command as run (upper case)")
    result: Any = Field(description="the reply: null, a number, text, a list or a map")
    items: OptInt = Field(default=None, description="entries in the whole reply, when it is a collection")
    truncated: bool = Field(description="true when the row or byte budget dropped part of the reply")
    truncated_reason: Reason = None
    hint: OptStr = Field(default=None, description="how to get the rest when truncated")


class RedisScanPage(BaseModel):
    """One page of SCAN: keys and the cursor to continue from (null when the scan is complete)."""

    connection: str
    keys: list[str | dict[str, str]] = Field(description="key names (binary names as {'base64': ...})")
    next_cursor: OptStr = Field(description="pass as cursor for the next page; null when the whole keyspace is done")
    truncated: bool = Field(description="true when the key or byte budget ended the page before the scan finished")
    truncated_reason: Annotated[
        Literal["max_keys", "max_bytes", "max_iterations"] | None,
        WithJsonSchema({"enum": ["max_keys", "max_bytes", "max_iterations", None]}),
    ] = None
    iterations: int = Field(description="SCAN round trips used for this page")


class RedisInfo(BaseModel):
    """A compact picture of a Redis server: version, memory, clients, keys, and the INFO sections asked for."""

    connection: str
    url: str = Field(description="the connection's URL without its password")
    redis_version: OptStr = None
    mode: OptStr = None
    role: OptStr = None
    uptime_seconds: OptInt = None
    connected_clients: OptInt = None
    used_memory_bytes: OptInt = None
    used_memory_human: OptStr = None
    maxmemory_bytes: OptInt = None
    maxmemory_policy: OptStr = None
    dbsize: int = Field(description="keys in this connection's database")
    keyspace: dict[str, dict[str, int]] = Field(description="per database: keys, expires, avg_ttl")
    sections: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="the INFO sections asked for, field by field"
    )
