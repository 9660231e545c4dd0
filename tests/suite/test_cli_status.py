"""``mcp-suite status``: the running gateway's instances as a table; a clear exit 2 when none answers."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
import uvicorn
import yaml

from gateway.door.http_app import build_gateway_app
from gateway.settings import GatewaySettings
from mesh.config import StaticInstance
from mesh.registry import StaticRegistry
from suite.cli import main
from suite.launcher.status_report import instance_health, render_instances
from tests.support.upstreams import Replica, demo_server, serve_http


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def running_gateway() -> AsyncIterator[str]:
    """A real gateway over one demo upstream, served over HTTP; yields its base URL."""
    async with serve_http(demo_server(Replica("a"))) as upstream_url, anyio.create_task_group() as tg:
        registry = StaticRegistry({"demo": (StaticInstance(url=upstream_url),)})
        app, _gateway = build_gateway_app(GatewaySettings(), registry)
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
        tg.start_soon(server.serve)
        with anyio.fail_after(10):
            while not server.started:
                await anyio.sleep(0.02)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True


async def status(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = await anyio.to_thread.run_sync(main, ["status", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.anyio
async def test_status_prints_each_instance_with_health_breaker_inflight_and_calls(
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with running_gateway() as url:
        code, out, err = await status(capsys, "--url", url)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("gateway mcp-suite-gateway")
    header = next(line for line in lines if line.startswith("SERVER"))
    assert header.split() == ["SERVER", "INSTANCE", "ADDRESS", "HEALTH", "BREAKER", "INFLIGHT", "CALLS", "FAILURES"]
    row = next(line for line in lines if line.startswith("demo "))
    assert row.split()[3:] == ["serving", "closed", "0", "0", "0"]


@pytest.mark.anyio
async def test_status_json_prints_the_gateways_instance_list(capsys: pytest.CaptureFixture[str]) -> None:
    async with running_gateway() as url:
        code, out, _ = await status(capsys, "--url", f"{url}/mcp", "--json")  # the /mcp URL is accepted too
    assert code == 0
    body = json.loads(out)
    assert [pool["server"] for pool in body["servers"]] == ["demo"]


@pytest.mark.anyio
async def test_status_without_a_gateway_exits_2_and_asks_whether_up_is_running(
    capsys: pytest.CaptureFixture[str],
) -> None:
    port = free_port()
    code, out, err = await status(capsys, "--url", f"http://127.0.0.1:{port}")
    assert code == 2 and out == ""
    assert f"http://127.0.0.1:{port}/v1/instances" in err
    assert "is `mcp-suite up` running?" in err


@pytest.mark.anyio
async def test_status_takes_the_gateway_address_from_the_config_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"gateway": {"port": port}}))
    code, _, err = await status(capsys, "--config", str(config))
    assert code == 2
    assert f"127.0.0.1:{port}" in err


@pytest.mark.anyio
async def test_status_against_something_that_is_not_the_gateway_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    async with serve_http(demo_server(Replica("a"))) as upstream_url:
        code, _, err = await status(capsys, "--url", upstream_url.removesuffix("/mcp"))
    assert code == 2
    assert "HTTP 404" in err


def test_the_health_column_says_why_an_instance_does_not_serve() -> None:
    base: dict[str, Any] = {"serving": False, "healthy": True, "admitted": True, "breaker": {"state": "closed"}}
    assert instance_health({**base, "serving": True}) == "serving"
    assert instance_health({**base, "healthy": False}) == "unhealthy"
    assert instance_health({**base, "admitted": False}) == "not-admitted"
    assert instance_health({**base, "breaker": {"state": "open"}}) == "breaker-open"


def test_a_gateway_without_servers_says_so() -> None:
    lines = render_instances({"gateway": {"name": "g", "version": "1"}, "servers": [], "catalog": {}}, "http://x")
    assert lines[-1] == "the gateway has no servers in its registry"
