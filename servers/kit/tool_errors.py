"""The one error a client sees from any server's tool: a stable code first, then what to do instead.

Raising a :class:`CodedToolError` (a ``ToolError``) makes the SDK answer with an ``is_error``
result carrying only its message, never a traceback. The code (``not_found``, ``refused``,
``invalid_cursor``...) is the part to test against; the rest is prose for the model. A server may
subclass it to name its own errors (``FsError``, ``DbError``); the behaviour lives here.
"""

from __future__ import annotations

from typing import Self

from mcp.server.mcpserver.exceptions import ToolError


class CodedToolError(ToolError):
    """A refusal or failure the client can act on. ``code`` is stable; ``str()`` is ``"<code>: <message>"``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.detail = message

    def __reduce__(self) -> tuple[type[Self], tuple[str, str]]:
        # Rebuilt from its parts when it crosses a process boundary (a worker process's pickle).
        return (type(self), (self.code, self.detail))
