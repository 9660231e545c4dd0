"""The few SDK internals the runtime reaches, in one place, each checked when it is used.

The SDK (mcp 2.3) gives a request handler its ``ServerSession`` but no public path to the
``Connection`` behind it (where per-connection state and teardown live), keeps the 2025-11-25 log
gate on the session, and gives an ``MCPServer`` no public accessor for its low-level server or its
``subscriptions/listen`` bus. The runtime needs all four to serve the handshake era's
``logging/setLevel`` and ``resources/subscribe`` (:mod:`servers.runtime.protocol_features`); the HTTP
fast path reads the session manager's lifespan state for a light ``Context``.
tests/servers/runtime/test_sdk_seams.py fails first if an SDK upgrade moves them.
"""

from __future__ import annotations

from typing import Any

from mcp.server import MCPServer
from mcp.server.connection import Connection
from mcp.server.lowlevel import Server
from mcp.server.session import ServerSession
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.subscriptions import SubscriptionBus
from mcp.types import LoggingLevel


def _attribute(owner: object, name: str, kind: type[Any]) -> Any:
    value = getattr(owner, name, None)
    if not isinstance(value, kind):
        raise RuntimeError(
            f"the mcp SDK's {type(owner).__name__} has no {name} of type {kind.__name__}; "
            "servers/runtime/sdk_seams.py needs updating for this SDK version"
        )
    return value


def connection_of(session: ServerSession) -> Connection:
    """The connection a request's session belongs to (its ``state`` and ``exit_stack`` are public)."""
    connection: Connection = _attribute(session, "_connection", Connection)
    return connection


def lowlevel_of(server: MCPServer[Any]) -> Server[Any]:
    """The low-level server an ``MCPServer`` wraps, where extra request handlers are registered."""
    lowlevel: Server[Any] = _attribute(server, "_lowlevel_server", Server)
    return lowlevel


def bus_of(server: MCPServer[Any]) -> SubscriptionBus:
    """The bus ``ctx.notify_resource_updated`` publishes on (the ``subscriptions/listen`` fan-out)."""
    bus = getattr(server, "_subscriptions", None)
    if bus is None or not callable(getattr(bus, "subscribe", None)):
        raise RuntimeError("the mcp SDK's MCPServer has no _subscriptions bus; update servers/runtime/sdk_seams.py")
    return bus  # type: ignore[no-any-return]


def narrow_log_gate(session: ServerSession, levels: frozenset[LoggingLevel]) -> None:
    """Let this request's session send only ``levels`` (the SDK's own per-request log gate)."""
    allowed: frozenset[LoggingLevel] = _attribute(session, "_allowed_log_levels", frozenset)
    session._allowed_log_levels = allowed & levels


def serving_lifespan(manager: StreamableHTTPSessionManager) -> tuple[bool, Any]:
    """Whether ``manager`` is running (its ``run()`` entered), and the lifespan state it hands each request.

    The SDK's HTTP endpoint refuses a request before ``run()``; a light ``Context`` on the fast path
    reads the same lifespan state the SDK's endpoint would pass to its handler.
    """
    if not hasattr(manager, "_task_group") or not hasattr(manager, "_lifespan_state"):
        raise RuntimeError(
            "the mcp SDK's StreamableHTTPSessionManager has no _task_group/_lifespan_state; "
            "servers/runtime/sdk_seams.py needs updating for this SDK version"
        )
    return manager._task_group is not None, manager._lifespan_state
