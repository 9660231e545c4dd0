"""``logging/setLevel`` for 2025-11-25 sessions: the level a client sets is the least it is sent.

The SDK sends every log level on a handshake-era connection and leaves filtering to the server's
``logging/setLevel`` handler. :func:`set_level` keeps the level in the connection's state;
:class:`LogLevelMiddleware` narrows each later request's log gate to that level and above, so
``ctx.info`` in any tool is dropped below it. On 2026-07-28 the method does not exist (the SDK
answers method not found) and the level travels in each request's ``_meta``, which the SDK honours.
"""

from __future__ import annotations

from typing import Any, get_args

from mcp.server.connection import Connection
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.session import ServerSession
from mcp.types import EmptyResult, LoggingLevel, SetLevelRequestParams

from servers.runtime.sdk_seams import connection_of, narrow_log_gate

LEVELS: tuple[LoggingLevel, ...] = get_args(LoggingLevel)
"""Severity ascending: debug, info, notice, warning, error, critical, alert, emergency."""
STATE_KEY = "mcp_suite.log_level"


def at_or_above(level: LoggingLevel) -> frozenset[LoggingLevel]:
    return frozenset(LEVELS[LEVELS.index(level) :])


async def set_level(ctx: ServerRequestContext[Any, Any], params: SetLevelRequestParams) -> EmptyResult:
    """Remember the connection's least level (the params model has already refused an unknown one)."""
    connection_of(ctx.session).state[STATE_KEY] = params.level
    return EmptyResult()


def narrow_to_set_level(session: ServerSession, connection: Connection) -> None:
    """Narrow ``session``'s log gate to the level its connection set, if it set one."""
    level = connection.state.get(STATE_KEY)
    if level in LEVELS:
        narrow_log_gate(session, at_or_above(level))


class LogLevelMiddleware:
    """Give each request of a connection that set a level a log gate of that level and above."""

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        narrow_to_set_level(ctx.session, connection_of(ctx.session))
        return await call_next(ctx)
