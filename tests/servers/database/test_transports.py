"""The database server over streamable HTTP through the runtime (both eras), /health, and its definition."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import httpx
import pytest
import uvicorn
from mcp import Client

from mesh.config import Settings
from mesh.serving.listen import bind_socket
from servers.database.server import DEFINITION
from servers.runtime.serve import build_http_app
from suite.known import load_definition
from suite.settings import SuiteSettings
from tests.servers.database.support import PG_URL, connection, data, refused, settings_with


@asynccontextmanager
async def http_server(settings: Settings) -> AsyncIterator[str]:
    server = DEFINITION.build(settings)
    app = build_http_app(DEFINITION, server, settings)
    sock = bind_socket("127.0.0.1", 0)
    sock.listen(64)
    port = sock.getsockname()[1]
    runner = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="on"))
    async with anyio.create_task_group() as group:
        group.start_soon(lambda: runner.serve(sockets=[sock]))
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            runner.should_exit = True


@pytest.mark.anyio
async def test_the_server_answers_over_streamable_http_in_both_eras(tmp_path: Path, pg_schema: str) -> None:
    settings = settings_with(
        tmp_path, pg=connection(PG_URL), lite=connection(f"sqlite:///{tmp_path}/l.db", "read_write")
    )
    async with http_server(settings) as base:
        for mode in ("legacy", "auto"):
            async with Client(f"{base}/mcp", mode=mode) as client:
                row = data(
                    await client.call_tool(
                        "sql_query", {"sql": f"SELECT name FROM {pg_schema}.customers WHERE id = $1", "params": [2]}
                    )
                )
                escape = await client.call_tool("sql_query", {"sql": f"COMMIT; DROP TABLE {pg_schema}.orders"})
                written = data(
                    await client.call_tool(
                        "sql_execute", {"sql": "CREATE TABLE IF NOT EXISTS t (x)", "connection": "lite"}
                    )
                )
            assert row["rows"] == [["customer 2"]]
            refused(escape, "refused")
            assert written["statement_kind"] == "CREATE"
        async with httpx.AsyncClient() as http:
            health = (await http.get(f"{base}/health")).json()
    assert health["ready"] is True and health["server"] == "database"
    assert health["checks"]["connection pg"].startswith("ok (postgres")
    assert health["checks"]["connection lite"].startswith("ok (sqlite")


@pytest.mark.anyio
async def test_health_is_degraded_and_secret_free_when_a_database_is_unreachable(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, down=connection("postgresql://u:pa55word-x@127.0.0.1:1/db"))
    async with http_server(settings) as base, httpx.AsyncClient() as http:
        response = await http.get(f"{base}/health")
    assert response.status_code == 503
    assert "pa55word-x" not in response.text and "connection down" in response.json()["checks"]


@pytest.mark.anyio
async def test_with_no_connections_the_embedded_workspace_is_ready() -> None:
    readiness = await DEFINITION.readiness(SuiteSettings())
    assert readiness.ready and "workspace" in next(iter(readiness.checks))


def test_the_runtime_knows_the_database_server_and_its_port() -> None:
    definition = load_definition("database")
    assert definition.name == "database" and definition.port_of(SuiteSettings()) == 8502
    with pytest.raises(ValueError, match="no positional arguments"):
        definition.apply_arguments(SuiteSettings(), ["postgresql://x"])
