"""The Redis tools' errors: a stable code first, then what went wrong and what to do instead.

A :class:`RedisToolError` is a ``DbError`` (a ``ToolError``): the client gets an ``is_error`` result carrying only
this message, never a traceback. Messages never hold a connection URL or password: driver errors
pass through :func:`servers.database.url_redaction.redact` before they become one.
"""

from __future__ import annotations

from servers.database.errors import DbError


class RedisToolError(DbError):
    """A refusal or failure the client can act on. ``code`` is stable; ``str()`` is ``"<code>: <message>"``."""
