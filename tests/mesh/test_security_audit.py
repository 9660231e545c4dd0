"""The audit trail: JSON lines appended one per call, and a real PostgreSQL table."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import anyio
import asyncpg  # type: ignore[import-untyped]
import pytest

from mesh.security.audit import AuditRecord, AuditTrail, JsonLinesAudit, PostgresAudit
from mesh.security.settings import AuditSettings

pytestmark = pytest.mark.anyio

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


def record(tool: str = "filesystem_read_text_file", outcome: str = "ok") -> AuditRecord:
    return AuditRecord(
        principal="alice",
        auth_method="jwt",
        roles=["reader"],
        endpoint="all",
        supervisor="system",
        server="filesystem",
        tool=tool,
        args_sha256="0" * 64,
        outcome=outcome,
        latency_ms=1.5,
        trace_id="a" * 32,
    )


async def test_each_record_is_one_json_line_appended(tmp_path: Path) -> None:
    path = tmp_path / "audit" / "audit.jsonl"
    sink = JsonLinesAudit(path, fsync_interval=0)
    async with sink.running():
        sink.write(record())
        sink.write(record(outcome="forbidden"))
    again = JsonLinesAudit(path)
    async with again.running():
        again.write(record(outcome="rate_limited"))
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["outcome"] for line in lines] == ["ok", "forbidden", "rate_limited"]
    assert lines[0]["principal"] == "alice" and lines[0]["trace_id"] == "a" * 32
    assert oct(path.stat().st_mode & 0o777) == "0o600"


async def test_the_default_file_is_in_the_data_dir_and_disabled_means_nothing(tmp_path: Path) -> None:
    trail = AuditTrail.from_settings(AuditSettings(), tmp_path)
    assert isinstance(trail.sinks[0], JsonLinesAudit) and trail.sinks[0].path == tmp_path / "audit.jsonl"
    assert not AuditTrail.from_settings(AuditSettings(enabled=False), tmp_path)


async def test_records_reach_a_real_postgresql_table() -> None:
    table = f"audit_test_{uuid.uuid4().hex[:12]}"
    sink = PostgresAudit(POSTGRES_URL, table)
    try:
        async with sink.running():
            for i in range(120):
                sink.write(record(tool=f"t{i}"))
            await anyio.sleep(0)  # the drain runs; leaving the block flushes the rest
        connection = await asyncpg.connect(POSTGRES_URL)
        try:
            rows = await connection.fetch(f"SELECT tool, roles, outcome, latency_ms FROM {table} ORDER BY id")
        finally:
            await connection.close()
        assert len(rows) == 120 and sink.dropped == 0
        assert rows[0]["tool"] == "t0" and rows[0]["roles"] == ["reader"] and rows[0]["latency_ms"] == 1.5
    finally:
        connection = await asyncpg.connect(POSTGRES_URL)
        await connection.execute(f"DROP TABLE IF EXISTS {table}")
        await connection.close()


def test_the_table_name_is_validated() -> None:
    with pytest.raises(ValueError):
        AuditSettings(postgres_table="audit; DROP TABLE users")
