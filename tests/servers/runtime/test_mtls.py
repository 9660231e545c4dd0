"""A server with ``auth.tls`` (client certificates required) serves only over mutual TLS.

The server is a real process (``serve_http`` from a config file, as ``mcp-suite serve`` runs it) with
certificates made at test time: the gateway's client certificate gets answers, a client without a
certificate or with one from another CA is refused at the handshake, plain HTTP gets nothing, and the
instance it registers is an ``https://`` URL.
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from mesh.security.settings import TlsClientSettings
from mesh.security.tls import client_context
from suite.cli import main
from tests.support.certificates import Issued, TestAuthority

ROOT = Path(__file__).resolve().parents[3]
MODERN = {
    "accept": "application/json, text/event-stream",
    "content-type": "application/json",
    "mcp-protocol-version": "2026-07-28",
    "mcp-method": "tools/list",
}
TOOLS_LIST = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "tools/list",
    "params": {
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
        }
    },
}

SCRIPT = """
import sys, anyio
from mcp.server import MCPServer
from mesh.config import load_settings
from mesh.registry import StaticRegistry
from servers.runtime.definition import ServerDefinition
from servers.runtime.serve import serve_http
from suite.settings import load_suite_settings

events = open(sys.argv[2], "a", buffering=1)

class Recorder(StaticRegistry):
    def register(self, instance):
        events.write("register " + instance.url + "\\n")
    def deregister(self, instance):
        events.write("deregister " + instance.url + "\\n")

def build(settings):
    server = MCPServer("echo")

    @server.tool()
    def echo(text: str) -> str:
        return text

    return server

settings = load_suite_settings(sys.argv[1])
definition = ServerDefinition(name="echo", build=build)
anyio.run(lambda: serve_http(definition, settings, host="127.0.0.1", port=0, registry=Recorder()))
"""


@dataclass(frozen=True)
class MtlsServer:
    url: str
    registered: str
    authority: TestAuthority
    gateway: Issued

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1].split("/")[0])

    def gateway_context(self) -> ssl.SSLContext:
        return client_context(
            TlsClientSettings(
                ca_file=self.authority.cert_file, cert_file=self.gateway.cert_file, key_file=self.gateway.key_file
            )
        )


def _environment(data_dir: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("MCP_SUITE_")}
    return {**env, "PYTHONPATH": str(ROOT), "MCP_SUITE_DATA_DIR": str(data_dir)}


def _tls_config(directory: Path, authority: TestAuthority, server: Issued) -> Path:
    config = directory / "mcp-suite.yaml"
    tls = {"cert_file": str(server.cert_file), "key_file": str(server.key_file), "ca_file": str(authority.cert_file)}
    config.write_text(yaml.safe_dump({"auth": {"tls": tls}}))
    return config


def _answers(port: int, context: ssl.SSLContext) -> bool:
    """Whether a handshake with ``context`` completes: the server is accepting connections."""
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=2) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1"),
        ):
            return True
    except ConnectionRefusedError:
        return False


@pytest.fixture(scope="module")
def mtls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MtlsServer]:
    directory = tmp_path_factory.mktemp("mtls")
    authority = TestAuthority(directory / "pki", "suite")
    config = _tls_config(directory, authority, authority.issue("echo-server"))
    gateway = authority.issue("gateway", client=True)
    script = directory / "echo_server.py"
    script.write_text(SCRIPT)
    events = directory / "events.log"
    events.touch()
    process = subprocess.Popen(
        [sys.executable, str(script), str(config), str(events)],
        env=_environment(directory / "data"),
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while not events.read_text().startswith("register "):
            assert process.poll() is None, (
                f"the server exited: {process.stderr.read().decode() if process.stderr else ''}"
            )
            assert time.monotonic() < deadline, "the server never registered"
            time.sleep(0.05)
        registered = events.read_text().split()[1]
        server = MtlsServer(registered.removesuffix("/mcp"), registered, authority, gateway)
        while not _answers(server.port, server.gateway_context()):  # registered in the lifespan, listening next
            assert time.monotonic() < deadline, "the server never accepted a connection"
            time.sleep(0.05)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)


def test_the_server_registers_an_https_url(mtls_server: MtlsServer) -> None:
    assert mtls_server.registered == f"https://127.0.0.1:{mtls_server.port}/mcp"


def test_a_client_with_the_gateway_certificate_gets_a_tools_list_answer(mtls_server: MtlsServer) -> None:
    with httpx.Client(verify=mtls_server.gateway_context(), trust_env=False) as http:
        answer = http.post(mtls_server.registered, json=TOOLS_LIST, headers=MODERN)
    assert answer.status_code == 200
    assert [tool["name"] for tool in answer.json()["result"]["tools"]] == ["echo"]


def _raw_health(port: int, context: ssl.SSLContext) -> tuple[bool, bytes]:
    """GET /health over a raw TLS socket: whether the client's side of the handshake completed, and
    every byte the server answered before closing (an SSL error ends the exchange)."""
    handshake_done, answer = False, b""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        try:
            with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                handshake_done = True
                tls.sendall(f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
                while chunk := tls.recv(65536):
                    answer += chunk
        except (ssl.SSLError, ConnectionResetError):
            pass
    return handshake_done, answer


def test_the_gateway_certificate_gets_an_answer_over_a_raw_tls_socket(mtls_server: MtlsServer) -> None:
    handshake_done, answer = _raw_health(mtls_server.port, mtls_server.gateway_context())
    assert handshake_done and answer.startswith(b"HTTP/1.1 200")


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_a_client_without_a_certificate_is_refused_at_the_handshake(
    mtls_server: MtlsServer, version: ssl.TLSVersion
) -> None:
    context = client_context(TlsClientSettings(ca_file=mtls_server.authority.cert_file))
    context.minimum_version = context.maximum_version = version
    handshake_done, answer = _raw_health(mtls_server.port, context)
    assert answer == b""  # not one HTTP byte: the request never reached the app
    # TLS 1.2 fails inside the handshake. In TLS 1.3 the client's side ends before the server has
    # judged the client's (missing) certificate; the server then drops the connection unanswered.
    assert handshake_done == (version == ssl.TLSVersion.TLSv1_3)


def test_a_client_with_a_certificate_from_another_ca_is_refused(mtls_server: MtlsServer, tmp_path: Path) -> None:
    stranger = TestAuthority(tmp_path, "stranger").issue("intruder", client=True)
    context = client_context(
        TlsClientSettings(
            ca_file=mtls_server.authority.cert_file, cert_file=stranger.cert_file, key_file=stranger.key_file
        )
    )
    _handshake_done, answer = _raw_health(mtls_server.port, context)
    with httpx.Client(verify=context, trust_env=False) as http, pytest.raises(httpx.TransportError):
        http.post(mtls_server.registered, json=TOOLS_LIST, headers=MODERN)
    assert answer == b""


def test_a_gateway_that_trusts_another_ca_refuses_the_server(mtls_server: MtlsServer, tmp_path: Path) -> None:
    elsewhere = TestAuthority(tmp_path, "elsewhere")
    context = client_context(
        TlsClientSettings(
            ca_file=elsewhere.cert_file, cert_file=mtls_server.gateway.cert_file, key_file=mtls_server.gateway.key_file
        )
    )
    with httpx.Client(verify=context, trust_env=False) as http, pytest.raises(httpx.ConnectError) as refused:
        http.post(mtls_server.registered, json=TOOLS_LIST, headers=MODERN)
    assert "CERTIFICATE_VERIFY_FAILED" in str(refused.value)


@pytest.mark.parametrize("path", ["/mcp", "/health"])
def test_nothing_is_served_over_plain_http(mtls_server: MtlsServer, path: str) -> None:
    with httpx.Client(trust_env=False) as http, pytest.raises(httpx.TransportError):
        http.post(f"http://127.0.0.1:{mtls_server.port}{path}", json=TOOLS_LIST, headers=MODERN)


def test_mcp_suite_serve_names_a_key_that_does_not_match_its_certificate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    authority = TestAuthority(tmp_path / "pki", "suite")
    server, other = authority.issue("server"), authority.issue("other")
    config = _tls_config(tmp_path, authority, Issued(server.cert_file, other.key_file))
    status = main(["serve", "filesystem", str(tmp_path), "--transport", "http", "--port", "0", "--config", str(config)])
    err = capsys.readouterr().err
    assert status == 2
    assert "auth.tls.key_file" in err and "does not belong to the certificate" in err
    assert "Traceback" not in err
