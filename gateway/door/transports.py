"""Run the gateway over streamable HTTP or stdio."""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack

from mcp.server.stdio import stdio_server

from gateway.call.catalog import ALL
from gateway.call.guard import CallGuard
from gateway.call.service import Gateway
from gateway.door.http_app import build_gateway_app
from gateway.door.mcp_endpoint import Endpoint
from gateway.settings import gateway_settings
from mesh import runtime
from mesh.config import Settings
from mesh.registry import Registry
from mesh.security.principal import Principal
from mesh.security.tls import client_context, server_context
from mesh.security.upstream_auth import upstream_headers
from mesh.serving.listen import bind_socket, serve_asgi
from mesh.tracing import configure_tracing

log = logging.getLogger("mcp_suite.gateway")


async def serve_gateway_http(settings: Settings, registry: Registry, *, host: str, port: int) -> None:
    """Serve ``/mcp``, the per-server and per-supervisor endpoints and REST until SIGTERM/SIGINT."""
    app, _gateway = build_gateway_app(
        gateway_settings(settings).model_copy(update={"host": host}), registry, suite=settings
    )
    tls = settings.auth.gateway_tls
    ssl_context = server_context(tls, setting="auth.gateway_tls") if tls is not None else None
    sock = bind_socket(host, port)
    bound = sock.getsockname()[1]
    scheme = "https" if ssl_context is not None else "http"
    log.info("gateway listening", extra={"url": f"{scheme}://{host}:{bound}/mcp", "servers": registry.servers()})
    await serve_asgi(app, settings, sock, ssl_context)


async def serve_gateway_stdio(settings: Settings, registry: Registry) -> None:
    """One client over stdin/stdout (Claude Desktop, Claude Code), every server behind it.

    No HTTP auth over stdio, but roles, rate limits and the audit trail hold as over HTTP: every call acts
    as :meth:`~gateway.call.guard.CallGuard.stdio_principal` (``auth.stdio``, else the local user).
    """
    gateway = Gateway(gateway_settings(settings), registry)
    if settings.auth.upstream_secret is not None:
        gateway.upstream_headers = upstream_headers(settings.auth.upstream_secret.get_secret_value())
    if settings.auth.upstream_tls is not None:
        gateway.upstream_ssl = client_context(settings.auth.upstream_tls)
    guard = CallGuard.from_settings(gateway, settings)
    principal = guard.stdio_principal()
    _warn_about_stdio_roles(settings, principal)
    endpoint = Endpoint(gateway, ALL, guard, principal=principal)
    options = endpoint.server.create_initialization_options()
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(guard.audit.running())
        stack.push_async_callback(guard.aclose)
        await stack.enter_async_context(gateway.running())
        read_stream, write_stream = await stack.enter_async_context(stdio_server())
        await endpoint.server.run(read_stream, write_stream, options)


def _warn_about_stdio_roles(settings: Settings, principal: Principal) -> None:
    """Say on stderr when the stdio session will see nothing, or names a role that grants nothing."""
    if principal.unrestricted:
        return
    unknown = [role for role in principal.roles if role not in settings.roles]
    if unknown:
        log.warning(
            "auth.stdio names a role the config does not define; it grants nothing",
            extra={"roles": unknown, "defined": sorted(settings.roles)},
        )
    if not principal.roles:
        log.warning(
            "the stdio session holds no role, so every tool is hidden and refused; grant some with auth.stdio.roles",
            extra={"subject": principal.subject},
        )


def run_gateway(settings: Settings, registry: Registry, *, transport: str, host: str, port: int) -> None:
    configure_tracing("mcp-gateway")
    if transport == "stdio":
        runtime.run(settings.event_loop, serve_gateway_stdio, settings, registry)
    else:

        async def http() -> None:
            await serve_gateway_http(settings, registry, host=host, port=port)

        runtime.run(settings.event_loop, http)
