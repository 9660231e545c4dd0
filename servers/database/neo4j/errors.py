"""The Neo4j tools' errors: a stable code first, then what went wrong and what to do instead.

A :class:`Neo4jToolError` is a ``DbError`` (a ``ToolError``): the client gets an ``is_error`` result with only this
message, never a traceback. :func:`from_driver_error` turns a driver exception into one, keeping
Neo4j's status code and message and scrubbing the connection's secrets out of the text.
"""

from __future__ import annotations

from collections.abc import Iterable

import neo4j.exceptions as neo4j_errors

from servers.database.errors import DbError
from servers.database.url_redaction import redact

ACCESS_MODE_CODE = "Neo.ClientError.Statement.AccessMode"


class Neo4jToolError(DbError):
    """A refusal or failure the client can act on. ``code`` is stable; ``str()`` is ``"<code>: <message>"``."""


def from_driver_error(connection: str, exc: BaseException, secrets: Iterable[str]) -> Neo4jToolError:
    """The client-facing error for a driver exception on ``connection``, secrets removed."""
    secrets = list(secrets)
    if isinstance(exc, neo4j_errors.AuthError):
        text = redact(getattr(exc, "message", None) or str(exc), secrets)
        return Neo4jToolError("auth_failed", f"connection {connection!r}: Neo4j refused the credentials ({text})")
    if isinstance(exc, neo4j_errors.ServiceUnavailable | neo4j_errors.SessionExpired | OSError):
        text = redact(str(exc).strip() or type(exc).__name__, secrets)
        return Neo4jToolError(
            "unreachable",
            f"connection {connection!r}: cannot reach Neo4j ({text}). Check that it runs and the URL is right.",
        )
    if isinstance(exc, neo4j_errors.Neo4jError):
        code = exc.code or "Neo.DatabaseError.General.UnknownError"
        text = redact(exc.message or str(exc), secrets)
        if code == ACCESS_MODE_CODE:
            return Neo4jToolError(
                "read_only",
                f"connection {connection!r}: Neo4j refused a write in a READ session ({text}). "
                "Use cypher_write on a read_write connection.",
            )
        if "TransactionTimedOut" in code or "TransactionTimedOutClientConfiguration" in code:
            return Neo4jToolError(
                "timeout",
                f"connection {connection!r}: the query ran past its statement timeout ({text}); narrow it (LIMIT, filters)",
            )
        return Neo4jToolError("cypher_error", f"connection {connection!r}: {code}: {text}")
    text = redact(str(exc).strip() or type(exc).__name__, secrets)
    return Neo4jToolError("driver_error", f"connection {connection!r}: {type(exc).__name__}: {text}")
