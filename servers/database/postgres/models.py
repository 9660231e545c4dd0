"""The PostgreSQL-only tools' results: the costliest statements and a health summary."""

from __future__ import annotations

from pydantic import BaseModel, Field


class TopQuery(BaseModel):
    query: str
    calls: int
    total_ms: float
    mean_ms: float
    rows: int
    cache_hit_ratio: float | None = None


class TopQueries(BaseModel):
    connection: str
    available: bool
    message: str | None = None
    order_by: str
    queries: list[TopQuery] = Field(default_factory=list)


class VacuumHint(BaseModel):
    table: str
    live_rows: int
    dead_rows: int
    dead_ratio: float
    last_vacuum: str | None
    last_autovacuum: str | None
    hint: str


class LongTransaction(BaseModel):
    pid: int
    state: str | None
    seconds: float
    query: str = Field(description="the first 200 characters of the session's current query")


class DbHealth(BaseModel):
    connection: str
    server_version: str
    connections_used: int
    connections_max: int
    cache_hit_ratio: float | None = Field(description="share of heap block reads served from shared buffers")
    vacuum_hints: list[VacuumHint]
    long_transactions: list[LongTransaction]
    notes: list[str] = Field(default_factory=list)
