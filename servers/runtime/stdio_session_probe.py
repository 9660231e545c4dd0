"""The SDK's handshake-era connection and lifespan state, made visible to the stdio transport that serves them.

The SDK (mcp 2.3) builds a 2025-11-25 connection inside its serving loop and hands it to no one but
its request handlers. The fast path needs it to answer a handshake-era ``tools/call`` as the SDK would:
whether ``initialize`` has been accepted, the negotiated version, the client's capabilities, the
connection's ``state`` (the log level a client set). The stdio transport opens a :class:`SessionSlot`
in a context variable before it starts the SDK's session; the SDK runs every handler in a copy of that
context, so :class:`SessionProbeMiddleware` fills the slot from the first message it sees. Outside a
stdio transport (HTTP) the variable is unset and the middleware only passes the call on.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from mcp.server import MCPServer
from mcp.server.connection import Connection
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.types.version import MODERN_PROTOCOL_VERSIONS

from servers.runtime.sdk_seams import connection_of


@dataclass
class SessionSlot:
    """What one stdio connection learnt of the SDK's session: empty until the SDK handled a first message."""

    connection: Connection | None = None
    """The handshake-era connection (None on a 2026-07-28 connection, where every request has its own)."""
    lifespan_context: Any = None
    seen: bool = False


_SLOT: ContextVar[SessionSlot | None] = ContextVar("mcp_suite_stdio_session_slot", default=None)
_probed: weakref.WeakSet[MCPServer[Any]] = weakref.WeakSet()


class SessionProbeMiddleware:
    """Fill the current stdio connection's :class:`SessionSlot` from the first message the SDK handles."""

    neutral_to_tool_calls = True
    """It changes no call: the fast path may stand in for it."""

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        slot = _SLOT.get()
        if slot is not None and not slot.seen:
            slot.seen = True
            slot.lifespan_context = ctx.lifespan_context
            if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
                slot.connection = connection_of(ctx.session)
        return await call_next(ctx)


def install_probe(server: MCPServer[Any]) -> None:
    """Add the probe to ``server`` once (outermost, so it sees a message before any middleware may refuse it)."""
    if server in _probed:
        return
    _probed.add(server)
    server.middleware.insert(0, SessionProbeMiddleware())


@contextmanager
def probing(slot: SessionSlot) -> Iterator[SessionSlot]:
    """Within this block, SDK sessions started from this task report to ``slot``."""
    token = _SLOT.set(slot)
    try:
        yield slot
    finally:
        _SLOT.reset(token)
