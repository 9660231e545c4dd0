"""The audit trail: one record per tool call, to a JSON-lines file and/or a PostgreSQL table.

A record holds the time, the principal (subject, auth method, roles), the endpoint's supervisor, the
server and tool, the SHA-256 digest of the canonical JSON arguments (never the values), the outcome
(``ok``, ``tool_error``, ``forbidden``, ``rate_limited``, ``invalid_arguments``, ``error``), the
JSON-RPC error code if any, the latency and the trace id when one is known.

File: opened with ``O_APPEND``; each record is one ``write()`` of one line, so concurrent writers
(several gateway processes on one file) never interleave inside a line and a crash of the process
loses nothing already written. ``fsync`` runs in a worker thread at most every
``fsync_interval_seconds`` (default 1 s), never on the event loop, so a power loss can lose up to that
much; ``0`` fsyncs after every line, inline (slower).

PostgreSQL: records are queued in memory (at most 10,000; beyond that they are dropped and counted, with
a warning) and inserted in batches by a background task, so a slow database never slows a call. The
table is created if missing.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import anyio
import anyio.to_thread
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from mesh.security.settings import AuditSettings

log = logging.getLogger("mcp_suite.security.audit")

_QUEUE_LIMIT = 10_000
_BATCH = 500


@dataclass
class AuditRecord:
    principal: str
    auth_method: str
    roles: list[str]
    endpoint: str
    supervisor: str | None
    server: str | None
    tool: str
    args_sha256: str
    outcome: str
    latency_ms: float
    error_code: int | None = None
    trace_id: str | None = None
    ts: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="microseconds"))


class AuditSink(Protocol):
    def write(self, record: AuditRecord) -> None: ...

    @asynccontextmanager
    def running(self) -> AsyncIterator[None]: ...


class JsonLinesAudit:
    """Appends one JSON line per record; fsync policy as described in the module docstring."""

    def __init__(self, path: Path, fsync_interval: float = 1.0) -> None:
        self.path = path
        self.fsync_interval = fsync_interval
        self._fd: int | None = None
        self._dirty = False

    def _open(self) -> int:
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        return self._fd

    def write(self, record: AuditRecord) -> None:
        # The record's own field dict: asdict() deep-copies every value first, for nothing here.
        line = json.dumps(vars(record), separators=(",", ":"), ensure_ascii=False) + "\n"
        try:
            fd = self._open()
            os.write(fd, line.encode("utf-8", "replace"))
            self._dirty = True
            if self.fsync_interval == 0:
                os.fsync(fd)
                self._dirty = False
        except OSError as exc:
            log.error("audit record could not be written", extra={"path": str(self.path), "error": exc.strerror})

    def close(self) -> None:
        if self._fd is not None:
            if self._dirty:
                os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None

    async def _sync_periodically(self) -> None:
        """fsync off the event loop (a worker thread), at most every ``fsync_interval`` seconds."""
        while True:
            await anyio.sleep(self.fsync_interval)
            fd = self._fd
            if self._dirty and fd is not None:
                self._dirty = False
                try:
                    await anyio.to_thread.run_sync(os.fsync, fd)
                except OSError as exc:
                    log.error("audit file could not be synced", extra={"path": str(self.path), "error": exc.strerror})

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        try:
            if self.fsync_interval > 0:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(self._sync_periodically)
                    try:
                        yield
                    finally:
                        tg.cancel_scope.cancel()
            else:
                yield
        finally:
            self.close()


_COLUMNS = (
    "ts",
    "principal",
    "auth_method",
    "roles",
    "endpoint",
    "supervisor",
    "server",
    "tool",
    "args_sha256",
    "outcome",
    "error_code",
    "latency_ms",
    "trace_id",
)


def create_table_sql(table: str) -> str:
    return f"""CREATE TABLE IF NOT EXISTS {table} (
        id bigserial PRIMARY KEY,
        ts timestamptz NOT NULL,
        principal text NOT NULL,
        auth_method text NOT NULL,
        roles text[] NOT NULL,
        endpoint text NOT NULL,
        supervisor text,
        server text,
        tool text NOT NULL,
        args_sha256 text NOT NULL,
        outcome text NOT NULL,
        error_code integer,
        latency_ms double precision NOT NULL,
        trace_id text
    )"""


class PostgresAudit:
    """Batches records into a PostgreSQL table (asyncpg); ``table`` is validated by the settings model."""

    def __init__(self, url: str, table: str) -> None:
        self.url = url
        self.table = table
        self.dropped = 0
        self._send: MemoryObjectSendStream[AuditRecord] | None = None

    def write(self, record: AuditRecord) -> None:
        if self._send is None:
            self.dropped += 1
            return
        try:
            self._send.send_nowait(record)
        except anyio.WouldBlock:
            self.dropped += 1
            if self.dropped % 1000 == 1:
                log.warning("audit queue full; records dropped", extra={"dropped": self.dropped})

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        import asyncpg  # type: ignore[import-untyped]

        connection = await asyncpg.connect(self.url, timeout=5)
        await connection.execute(create_table_sql(self.table))
        send, receive = anyio.create_memory_object_stream[AuditRecord](_QUEUE_LIMIT)
        self._send = send
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._drain, connection, receive)
            try:
                yield
            finally:
                self._send = None
                send.close()  # the drain task inserts what is queued, then ends
        await connection.close()

    async def _drain(self, connection: Any, receive: MemoryObjectReceiveStream[AuditRecord]) -> None:
        insert = (
            f"INSERT INTO {self.table} ({', '.join(_COLUMNS)}) "  # noqa: S608 - table name validated by the settings
            f"VALUES ({', '.join(f'${i + 1}' for i in range(len(_COLUMNS)))})"
        )
        async with receive:
            async for first in receive:
                batch = [first]
                while len(batch) < _BATCH:
                    try:
                        batch.append(receive.receive_nowait())
                    except (anyio.WouldBlock, anyio.EndOfStream):
                        break
                rows = [
                    (
                        datetime.fromisoformat(r.ts),
                        r.principal,
                        r.auth_method,
                        r.roles,
                        r.endpoint,
                        r.supervisor,
                        r.server,
                        r.tool,
                        r.args_sha256,
                        r.outcome,
                        r.error_code,
                        r.latency_ms,
                        r.trace_id,
                    )
                    for r in batch
                ]
                try:
                    with anyio.CancelScope(shield=True):
                        await connection.executemany(insert, rows)
                except Exception as exc:
                    self.dropped += len(rows)
                    log.error(
                        "audit records could not be inserted", extra={"error": type(exc).__name__, "rows": len(rows)}
                    )


class AuditTrail:
    """Every configured sink; :meth:`record` never raises and never waits."""

    def __init__(self, sinks: list[Any]) -> None:
        self.sinks = sinks

    @classmethod
    def from_settings(cls, settings: AuditSettings, data_dir: Path) -> AuditTrail:
        if not settings.enabled:
            return cls([])
        sinks: list[Any] = [JsonLinesAudit(settings.path or data_dir / "audit.jsonl", settings.fsync_interval_seconds)]
        if settings.postgres_url is not None:
            sinks.append(PostgresAudit(settings.postgres_url.get_secret_value(), settings.postgres_table))
        return cls(sinks)

    def __bool__(self) -> bool:
        return bool(self.sinks)

    def record(self, record: AuditRecord) -> None:
        for sink in self.sinks:
            sink.write(record)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            for sink in self.sinks:
                await stack.enter_async_context(sink.running())
            yield
