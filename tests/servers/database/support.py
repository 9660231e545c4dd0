"""Helpers for the database server's tests: settings for named connections, result unpacking, checksums."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from mcp.types import CallToolResult
from pydantic import SecretStr

from mesh.config import Settings
from servers.database.settings import DatabaseConnection, DatabaseSettings
from suite.settings import SuiteSettings

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


def connection(url: str, access: str = "read_only", **extra: Any) -> DatabaseConnection:
    return DatabaseConnection(url=SecretStr(url), access=access, **extra)  # type: ignore[arg-type]


def settings_with(data_dir: Path, **connections: DatabaseConnection) -> Settings:
    return SuiteSettings(data_dir=data_dir, database=DatabaseSettings(connections=connections))


def data(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    content: dict[str, Any] | None = result.structured_content
    assert content is not None
    return content


def error_text(result: CallToolResult) -> str:
    assert result.is_error, f"expected an error, got {result.structured_content}"
    return " ".join(getattr(block, "text", "") for block in result.content)


def refused(result: CallToolResult, code: str) -> str:
    text = error_text(result)
    assert f"{code}:" in text, text
    assert "Traceback" not in text
    return text


async def pg_checksum(schema: str, *tables: str) -> str:
    """An md5 over every row of ``tables`` (in key order): equal before and after means unchanged."""
    conn = await asyncpg.connect(PG_URL)
    try:
        parts = []
        for table in tables:
            parts.append(
                await conn.fetchval(
                    f"SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '') "
                    f"FROM {schema}.{table} t"
                )
            )
        parts.append(
            str(
                await conn.fetchval(
                    "SELECT string_agg(table_name, ',' ORDER BY table_name) FROM information_schema.tables "
                    "WHERE table_schema = $1",
                    schema,
                )
            )
        )
        return "|".join(parts)
    finally:
        await conn.close()
