"""Run a built server over stdio or streamable HTTP.

stdio: nothing but protocol on stdout; every log line goes to stderr.
HTTP: the MCP endpoint at ``/mcp`` answers both protocol eras (2025-11-25 sessions and the
stateless 2026-07-28 wire); ``GET /health`` reports liveness and the backend's readiness;
SIGTERM/SIGINT stop accepting connections and let in-flight calls finish within
``shutdown_grace_seconds``. The process registers itself once it is up and deregisters on the way out.
Binding the socket and running uvicorn are the ground floor's (:mod:`mesh.serving`), shared with the gateway.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from typing import Any, cast

import anyio
import anyio.to_thread
from mcp.server import MCPServer
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage
from mcp.types import jsonrpc_message_adapter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp

from mesh.config import Settings
from mesh.jsonrpc_envelope import RpcProblem
from mesh.registry import Registry, ServiceInstance
from mesh.security.http_errors import JsonTransportErrorsMiddleware
from mesh.security.tls import server_context
from mesh.security.upstream_auth import UpstreamSecretMiddleware
from mesh.serving.listen import bind_socket, serve_asgi
from mesh.serving.transport_security import transport_security_for
from mesh.tracing import configure_tracing
from servers.runtime.definition import BodyLimit, ServerDefinition
from servers.runtime.fastpath import FastToolCallMiddleware
from servers.runtime.observability import instrument_server
from servers.runtime.protocol_features import add_protocol_features
from servers.runtime.request_guard import RequestGuardMiddleware
from servers.runtime.sdk_seams import lowlevel_of
from servers.runtime.stdio_guard import GuardedStdin
from servers.runtime.stdio_pipes import loop_pipe_capable
from servers.runtime.stdio_transport import serve_stdio_pipes

log = logging.getLogger("mcp_suite.runtime")


async def serve_stdio(definition: ServerDefinition, settings: Settings, server: MCPServer[Any] | None = None) -> None:
    """Serve one client over stdin/stdout until it closes the pipe.

    Every line passes :mod:`servers.runtime.stdio_guard` first (the server's ``body_limit``, the
    JSON-RPC envelope), as every HTTP body passes the request guard. With ``fast_path`` on (the
    default) and stdin and stdout pipes, the runtime's own transport serves
    (:mod:`servers.runtime.stdio_transport`: no thread hop per message, qualifying tool calls on the
    fast path); otherwise the SDK's. ``server`` defaults to a fresh build.
    """
    server = server if server is not None else definition.build(settings)
    configure_tracing(f"mcp-{server.name}")
    add_protocol_features(server)
    limit = definition.body_limit(settings)
    with claimed_stdin() as fd:
        if settings.fast_path and loop_pipe_capable(fd, 1):
            log.info("serving over stdio", extra={"server": server.name, "transport": "runtime"})
            with claimed_stdout() as out:
                await serve_stdio_pipes(server, fd, out, limit, grace_seconds=settings.shutdown_grace_seconds)
            return
        log.info("serving over stdio", extra={"server": server.name, "transport": "sdk"})
        await serve_stdio_sdk(server, fd, limit)


async def serve_stdio_sdk(
    server: MCPServer[Any], stdin_fd: int, limit: BodyLimit, stdout: anyio.AsyncFile[str] | None = None
) -> None:
    """Serve one client with the SDK's stdio transport, reading ``stdin_fd`` through the guard.

    ``stdout`` defaults to the SDK's own claim of fd 1.
    """
    lowlevel = lowlevel_of(server)
    stdin = GuardedStdin(stdin_fd, limit)
    async with stdio_server(stdin=cast("anyio.AsyncFile[str]", stdin), stdout=stdout) as (read_stream, write_stream):

        async def reply(problem: RpcProblem) -> None:
            await write_stream.send(SessionMessage(jsonrpc_message_adapter.validate_python(problem.body())))

        stdin.start(reply)
        await lowlevel.run(read_stream, write_stream, lowlevel.create_initialization_options())


@contextmanager
def claimed_stdin() -> Iterator[int]:
    """A private copy of fd 0 to read the protocol from, with fd 0 itself on the null device meanwhile.

    So a handler or child process that reads stdin gets end-of-file instead of a client's bytes, as the
    SDK's own transport arranges when it reads stdin itself.
    """
    private = fcntl.fcntl(0, fcntl.F_DUPFD_CLOEXEC, 3)
    null = os.open(os.devnull, os.O_RDONLY)
    try:
        os.dup2(null, 0)
    finally:
        os.close(null)
    try:
        yield private
    finally:
        # The private copy stays open: a worker thread may still be blocked reading it, and a closed
        # descriptor could be reused under that read (the SDK's transport never closes its copy either).
        os.dup2(private, 0)


@contextmanager
def claimed_stdout() -> Iterator[int]:
    """A private copy of fd 1 to write the protocol to, with fd 1 itself on stderr meanwhile.

    So a stray ``print`` or a child process's output lands in the log instead of tearing a message on
    the wire, as the SDK's own transport arranges when it writes stdout itself.
    """
    private = fcntl.fcntl(1, fcntl.F_DUPFD_CLOEXEC, 3)
    os.dup2(2, 1)
    try:
        yield private
    finally:
        os.dup2(private, 1)
        os.close(private)


def build_http_app(
    definition: ServerDefinition,
    server: MCPServer[Any],
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    instance: ServiceInstance | None = None,
    registry: Registry | None = None,
    fast_path: bool = True,
) -> Starlette:
    """The Starlette app of one server: ``/mcp`` (both eras), ``GET /health`` and ``GET /metrics``.

    With ``fast_path`` (the default), qualifying stateless ``tools/call`` requests skip the SDK's
    transport (:mod:`servers.runtime.fastpath`) and Starlette's layers; the upstream secret still applies.
    Every other POST to ``/mcp`` passes :mod:`servers.runtime.request_guard` (the server's
    ``body_limit``, the JSON-RPC envelope) first.
    The middleware stack is built here: nothing can be added to the app afterwards.
    """
    started = time.monotonic()

    async def health(_request: Request) -> JSONResponse:
        try:
            readiness = await definition.readiness(settings)
            ready, checks = readiness.ready, readiness.checks
        except Exception as exc:  # a failing probe is a health answer, not a crash
            ready, checks = False, {"readiness": f"check failed: {type(exc).__name__}: {exc}"}
        body = {
            "status": "ok" if ready else "degraded",
            "server": definition.name,
            "live": True,
            "ready": ready,
            "checks": checks,
            "uptime_seconds": round(time.monotonic() - started, 3),
        }
        return JSONResponse(body, status_code=200 if ready else 503)

    server.custom_route("/health", methods=["GET"])(health)
    add_protocol_features(server)
    instrument_server(server, definition.name)
    limit = definition.body_limit(settings)
    app = server.streamable_http_app(
        streamable_http_path="/mcp",
        transport_security=transport_security_for(host),
        host=host,
        max_request_body_size=limit.max_bytes,
    )
    app.add_middleware(JsonTransportErrorsMiddleware)  # the SDK's plain-text 4xx answers become JSON-RPC errors
    # The fast path and the upstream secret wrap Starlette's whole stack, so a qualifying call skips its
    # layers (server errors, JSON error rewriting, routing): each await of the call resumes every layer it is
    # nested in. Both answer in JSON themselves, and an exception escaping them gets uvicorn's plain 500,
    # as Starlette's ServerErrorMiddleware would give.
    # The guard answers a body over the server's own limit, or one that is no JSON-RPC message, with one
    # JSON-RPC error; it sits behind the fast path, which parses a qualifying call itself.
    stack: ASGIApp = RequestGuardMiddleware(app.build_middleware_stack(), limit=limit, path="/mcp")
    if fast_path:
        stack = FastToolCallMiddleware(stack, server=server, path="/mcp")
    if settings.auth.upstream_secret is not None:  # only the gateway may call: /health stays open
        stack = UpstreamSecretMiddleware(stack, secret=settings.auth.upstream_secret.get_secret_value())
    app.middleware_stack = stack
    inner_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(starlette_app: Starlette) -> AsyncIterator[None]:
        async with inner_lifespan(starlette_app):
            # Registering may be a network call (Consul): it runs in a worker thread, off the event loop.
            if registry is not None and instance is not None:
                await anyio.to_thread.run_sync(registry.register, instance)
            try:
                yield
            finally:
                if registry is not None and instance is not None:
                    with anyio.CancelScope(shield=True):
                        await anyio.to_thread.run_sync(registry.deregister, instance)

    app.router.lifespan_context = lifespan
    return app


async def serve_http(
    definition: ServerDefinition,
    settings: Settings,
    *,
    host: str,
    port: int,
    registry: Registry | None = None,
    meta: Mapping[str, str] | None = None,
) -> None:
    """Serve ``definition`` over streamable HTTP until SIGTERM/SIGINT, then drain within the grace period.

    ``meta`` is added to what the instance registers (e.g. its supervisor groups).
    """
    configure_tracing(f"mcp-{definition.name}")
    # auth.tls: read the certificate files before binding, so a bad one fails fast and clearly.
    ssl_context = server_context(settings.auth.tls) if settings.auth.tls is not None else None
    scheme = "https" if ssl_context is not None else "http"
    server = definition.build(settings)
    sock = bind_socket(host, port)
    bound_port = sock.getsockname()[1]
    url_host = f"[{host}]" if ":" in host else host
    instance = ServiceInstance(
        server=definition.name,
        url=f"{scheme}://{url_host}:{bound_port}/mcp",
        meta={"protocols": "2025-11-25,2026-07-28", "transport": "streamable-http", **(meta or {})},
    )
    app = build_http_app(
        definition, server, settings, host=host, instance=instance, registry=registry, fast_path=settings.fast_path
    )
    log.info(
        "listening",
        extra={"server": definition.name, "url": instance.url, "health": f"{scheme}://{url_host}:{bound_port}/health"},
    )
    await serve_asgi(app, settings, sock, ssl_context)
    log.info("stopped", extra={"server": definition.name})
