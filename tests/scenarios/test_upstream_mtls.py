"""The gateway dials a server that requires client certificates (mutual TLS) with ``auth.upstream_tls``.

Real components: the filesystem server's app behind uvicorn with the context of ``auth.tls`` (client
certificates required), the gateway's app from :func:`build_gateway_app` with ``auth.upstream_tls``;
certificates made at test time.
"""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import uvicorn
import yaml
from starlette.types import ASGIApp

from gateway.door.http_app import build_gateway_app
from mesh.config import Settings, StaticInstance
from mesh.registry import StaticRegistry
from mesh.security.settings import TlsClientSettings
from mesh.security.tls import client_context, server_context
from mesh.serving.listen import bind_socket
from servers.runtime.serve import build_http_app
from suite.cli import main
from suite.known import load_definition
from suite.settings import SuiteSettings
from tests.support.certificates import TestAuthority
from tests.support.upstreams import free_port, serve_app

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def serve_https(app: ASGIApp, context: ssl.SSLContext) -> AsyncIterator[str]:
    """``app`` over TLS with ``context`` on a free loopback port; its ``https://`` MCP URL."""
    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]

    def use_context(_config: uvicorn.Config, _default: Any) -> ssl.SSLContext:
        return context

    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="on", ssl_context_factory=use_context))
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: server.serve(sockets=[sock]))
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "the TLS upstream did not start within 10 s"
            await anyio.sleep(0.01)
        try:
            yield f"https://127.0.0.1:{port}/mcp"
        finally:
            server.should_exit = True


def suite_settings(tmp_path: Path, *, gateway_certificate: bool) -> Settings:
    """One settings object for both sides: the server's ``auth.tls``, the gateway's ``auth.upstream_tls``."""
    authority = TestAuthority(tmp_path / "pki", "suite")
    server = authority.issue("filesystem")
    gateway = authority.issue("gateway", client=True)
    upstream_tls: dict[str, str] = {"ca_file": str(authority.cert_file)}
    if gateway_certificate:
        upstream_tls |= {"cert_file": str(gateway.cert_file), "key_file": str(gateway.key_file)}
    root = tmp_path / "root"
    root.mkdir()
    (root / "note.txt").write_text("over mutual TLS")
    server_tls = {
        "cert_file": str(server.cert_file),
        "key_file": str(server.key_file),
        "ca_file": str(authority.cert_file),
    }
    config: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "filesystem": {"roots": [{"path": str(root), "mode": "rw"}]},
        "auth": {"tls": server_tls, "upstream_tls": upstream_tls},
    }
    return SuiteSettings(**config)


@asynccontextmanager
async def gateway_over_mtls(settings: Settings) -> AsyncIterator[str]:
    """The filesystem server over mutual TLS and the gateway in front of it; the gateway's base URL."""
    assert settings.auth.tls is not None
    definition = load_definition("filesystem")
    upstream = build_http_app(definition, definition.build(settings), settings)
    async with serve_https(upstream, server_context(settings.auth.tls)) as url:
        registry = StaticRegistry({"filesystem": (StaticInstance(url=url),)})
        app, _gateway = build_gateway_app(settings.gateway, registry, suite=settings)
        async with serve_app(app) as base:
            yield base


def read_note(settings: Settings) -> dict[str, Any]:
    path = settings.filesystem.roots[0].path / "note.txt"
    return {"name": "filesystem_read_text_file", "arguments": {"path": str(path)}}


def filesystem_status(instances: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The filesystem server's entry in ``GET /v1/instances`` and its one instance."""
    (server,) = [entry for entry in instances["servers"] if entry["server"] == "filesystem"]
    (instance,) = server["instances"]
    return server, instance


async def test_a_tool_call_reaches_a_server_that_requires_the_gateway_certificate(tmp_path: Path) -> None:
    settings = suite_settings(tmp_path, gateway_certificate=True)
    async with gateway_over_mtls(settings) as base, httpx.AsyncClient(base_url=base, trust_env=False) as http:
        called = await http.post("/mcp/v1/tools/call", json=read_note(settings))
        server, instance = filesystem_status((await http.get("/v1/instances")).json())
    assert called.status_code == 200, called.text
    assert "over mutual TLS" in called.text
    assert server["available"] and instance["healthy"], instance["last_error"]
    assert instance["address"].startswith("https://")


async def test_without_its_client_certificate_the_gateway_marks_the_instance_unavailable(tmp_path: Path) -> None:
    settings = suite_settings(tmp_path, gateway_certificate=False)
    async with gateway_over_mtls(settings) as base, httpx.AsyncClient(base_url=base, trust_env=False) as http:
        called = await http.post("/mcp/v1/tools/call", json=read_note(settings))
        server, instance = filesystem_status((await http.get("/v1/instances")).json())
    assert called.status_code == 404 and "its server is unavailable" in called.json()["error"]["message"]
    assert "over mutual TLS" not in called.text
    assert not server["available"] and not instance["healthy"]
    assert "unavailable" in instance["last_error"]
    assert "client certificates" in instance["last_error"] and "auth.upstream_tls.cert_file" in instance["last_error"]


def test_mcp_suite_up_refuses_a_config_with_tls_instead_of_probing_https_servers_over_http(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import suite.launcher

    started: list[object] = []
    monkeypatch.setattr(suite.launcher, "run_up", lambda *args, **kwargs: started.append(args) or 0)
    settings = suite_settings(tmp_path, gateway_certificate=True)
    assert settings.auth.tls is not None
    config = tmp_path / "mcp-suite.yaml"
    tls = {key: str(value) for key, value in settings.auth.tls.model_dump(exclude_none=True).items()}
    config.write_text(yaml.safe_dump({"auth": {"tls": tls}}))
    status = main(["up", "--config", str(config)])
    assert status == 2
    assert "does not set up TLS" in capsys.readouterr().err
    assert started == []


def test_the_gateway_serves_its_own_endpoint_over_tls_with_auth_gateway_tls(tmp_path: Path) -> None:
    authority = TestAuthority(tmp_path / "pki", "suite")
    listener = authority.issue("gateway-endpoint")
    config = tmp_path / "mcp-suite.yaml"
    gateway_tls = {
        "cert_file": str(listener.cert_file),
        "key_file": str(listener.key_file),
        "client_cert_required": False,
    }
    config.write_text(yaml.safe_dump({"auth": {"gateway_tls": gateway_tls}}))
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("MCP_SUITE_")}
    env |= {"MCP_SUITE_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    command = [sys.executable, "-m", "suite.cli", "gateway", "--port", str(port), "--config", str(config)]
    process = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)
    trusted = client_context(TlsClientSettings(ca_file=authority.cert_file))
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = httpx.get(f"https://127.0.0.1:{port}/v1/instances", verify=trusted, trust_env=False)
                break
            except httpx.ConnectError:
                assert process.poll() is None, "the gateway exited"
                assert time.monotonic() < deadline, "the gateway never answered"
                time.sleep(0.05)
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/v1/instances", trust_env=False)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
    assert answer.status_code == 200 and answer.json()["gateway"]["name"] == "mcp-suite-gateway"
