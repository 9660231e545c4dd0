"""The database server's errors: a stable code first, then what went wrong and what to do instead.

Every error a client can see is a :class:`DbError`, the server kit's coded tool error
(:mod:`servers.kit.tool_errors`). Driver errors are turned into
one by :func:`from_driver_error`, which keeps PostgreSQL's SQLSTATE and message and scrubs the
connection's secrets out of the text.
"""

from __future__ import annotations

from collections.abc import Iterable

from servers.database.url_redaction import redact
from servers.kit.tool_errors import CodedToolError


class DbError(CodedToolError):
    """An error of the database server (``code`` stable, ``str()`` is ``"<code>: <message>"``)."""


def refused(message: str) -> DbError:
    """A statement the safety checks refuse (``refused``): says what was refused and what to do instead."""
    return DbError("refused", message)


def from_driver_error(connection: str, exc: BaseException, secrets: Iterable[str]) -> DbError:
    """The client-facing error for a driver exception on ``connection``: SQLSTATE + message, secrets removed."""
    sqlstate = getattr(exc, "sqlstate", None)
    message = str(exc).strip() or type(exc).__name__
    detail = getattr(exc, "detail", None)
    hint = getattr(exc, "hint", None)
    if isinstance(detail, str) and detail:
        message += f" (detail: {detail})"
    if isinstance(hint, str) and hint:
        message += f" (hint: {hint})"
    message = redact(message, secrets)
    if sqlstate == "57014":
        return DbError(
            "timeout",
            f"connection {connection!r}: the statement ran past its statement timeout and was cancelled "
            f"(SQLSTATE 57014). Narrow the query (filters, LIMIT) or ask the operator to raise statement_timeout_ms.",
        )
    if sqlstate == "25006":
        return DbError(
            "read_only",
            f"connection {connection!r}: the database refused a write inside a read-only transaction "
            f"(SQLSTATE 25006: {message}). Use `sql_execute` on a read_write connection for writes.",
        )
    if sqlstate:
        return DbError("sql_error", f"connection {connection!r}: SQLSTATE {sqlstate}: {message}")
    return DbError("sql_error", f"connection {connection!r}: {message}")


def _named(exc: BaseException, secrets: Iterable[str]) -> str:
    """``"<type>: <message>"`` of a driver exception, secrets removed."""
    return f"{type(exc).__name__}: {redact(str(exc).strip() or type(exc).__name__, secrets)}"


def unavailable(connection: str, exc: BaseException, secrets: Iterable[str]) -> DbError:
    """The database behind ``connection`` cannot be reached or refused the login (secrets removed)."""
    return DbError(
        "unavailable",
        f"connection {connection!r} cannot be opened: {_named(exc, secrets)}. "
        "Check that the database is running and the connection's URL and credentials are right "
        "(`list_connections` shows the URL without its password).",
    )


def session_lost(connection: str, exc: BaseException, secrets: Iterable[str]) -> DbError:
    """The database ended ``connection``'s session during a call (a restart, a terminated backend, an idle timeout)."""
    return DbError(
        "unavailable",
        f"connection {connection!r}: the database ended the session during the call ({_named(exc, secrets)}); "
        "it restarted, or an operator or an idle timeout ended the session. A read can be repeated as it is; "
        "a write may or may not have been committed, so check before repeating it.",
    )
