"""Listen and serve: bind the socket, then run an ASGI app on it with uvicorn until SIGTERM/SIGINT.

Binding comes first and apart, so a process that asked for port 0 (a free port, for replicas) knows its
port before it registers anywhere. Serving lets in-flight requests finish within
``shutdown_grace_seconds`` once a signal arrives.
"""

from __future__ import annotations

import logging
import socket
import ssl
from collections.abc import Callable

import uvicorn
from starlette.applications import Starlette

from mesh.config import Settings
from mesh.runtime import freeze_startup_heap
from mesh.serving.keep_alive import SERVER_KEEP_ALIVE_SECONDS

log = logging.getLogger("mcp_suite.runtime")


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind before serving so port 0 (a free port, for replicas) is known before anything registers."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit TCP_NODELAY from the listener. asyncio sets it itself only on
    # servers it binds; without it every keep-alive response waits ~40 ms for a delayed ACK.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


def uvicorn_config(app: Starlette, settings: Settings, ssl_context: ssl.SSLContext | None = None) -> uvicorn.Config:
    """How every process of the suite runs uvicorn: its log level, grace period, keep-alive and TLS."""

    def use_context(_config: uvicorn.Config, _default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
        assert ssl_context is not None
        return ssl_context

    return uvicorn.Config(
        app,
        log_config=None,
        log_level=settings.log_level,
        access_log=False,
        timeout_keep_alive=round(SERVER_KEEP_ALIVE_SECONDS),
        timeout_graceful_shutdown=max(1, round(settings.shutdown_grace_seconds)),
        lifespan="on",
        ssl_context_factory=use_context if ssl_context is not None else None,
    )


async def serve_asgi(
    app: Starlette, settings: Settings, sock: socket.socket, ssl_context: ssl.SSLContext | None = None
) -> None:
    """Run ``app`` on the bound ``sock`` until SIGTERM/SIGINT, letting in-flight requests finish within the grace period.

    With ``ssl_context`` (:func:`mesh.security.tls.server_context`) every connection is TLS: a client
    the context refuses (no certificate, one from another CA) never reaches ``app``.
    """
    config = uvicorn_config(app, settings, ssl_context)
    server = uvicorn.Server(config)
    frozen = freeze_startup_heap()  # built and imported: full collections from now on skip all of it
    log.debug("startup heap frozen", extra={"objects": frozen})
    await server.serve(sockets=[sock])
