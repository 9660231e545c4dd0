"""The Redis tools' errors: a stable code first, then what went wrong and what to do instead.

A :class:`RedisToolError` is a ``ToolError``: the client gets an ``is_error`` result carrying only
this message, never a traceback. Messages never hold a connection URL or password: driver errors
pass through :func:`servers.database.redaction.redact` before they become one.
"""

from __future__ import annotations

from mcp.server.mcpserver.exceptions import ToolError


class RedisToolError(ToolError):
    """A refusal or failure the client can act on. ``code`` is stable; ``str()`` is ``"<code>: <message>"``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.detail = message
