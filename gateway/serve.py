"""Run the gateway over streamable HTTP or stdio."""

from __future__ import annotations

import logging

import anyio
from mcp.server.stdio import stdio_server

from gateway.app import build_gateway_app
from gateway.catalog import ALL
from gateway.endpoint import Endpoint
from gateway.service import Gateway
from mesh.config import Settings
from mesh.registry import Registry
from mesh.tracing import configure_tracing
from servers.runtime.serve import bind_socket, serve_asgi

log = logging.getLogger("mcp_suite.gateway")


async def serve_gateway_http(settings: Settings, registry: Registry, *, host: str, port: int) -> None:
    """Serve ``/mcp``, the per-server and per-supervisor endpoints and REST until SIGTERM/SIGINT."""
    app, _gateway = build_gateway_app(settings.gateway.model_copy(update={"host": host}), registry, suite=settings)
    sock = bind_socket(host, port)
    bound = sock.getsockname()[1]
    log.info("gateway listening", extra={"url": f"http://{host}:{bound}/mcp", "servers": registry.servers()})
    await serve_asgi(app, settings, sock)


async def serve_gateway_stdio(settings: Settings, registry: Registry) -> None:
    """One client over stdin/stdout (Claude Desktop, Claude Code), every server behind it."""
    gateway = Gateway(settings.gateway, registry)
    endpoint = Endpoint(gateway, ALL)
    options = endpoint.server.create_initialization_options()
    async with gateway.running(), stdio_server() as (read_stream, write_stream):
        await endpoint.server.run(read_stream, write_stream, options)


def run_gateway(settings: Settings, registry: Registry, *, transport: str, host: str, port: int) -> None:
    configure_tracing("mcp-gateway")
    if transport == "stdio":
        anyio.run(serve_gateway_stdio, settings, registry)
    else:

        async def http() -> None:
            await serve_gateway_http(settings, registry, host=host, port=port)

        anyio.run(http)
