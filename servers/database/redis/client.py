"""One redis-py asyncio client per connection, created on first use and reused; errors made safe to show.

Clients are cached per (event loop, URL): a client's sockets belong to the loop that opened them.
:func:`close_redis_clients` closes them all (the server's shutdown calls it). Every call runs under
the connection's ``statement_timeout_ms``; every error is turned into a :class:`RedisToolError`
whose text has been scrubbed of the URL and password.

Tracing: :meth:`RedisHandle.call`, which every round trip goes through, opens one ``redis <COMMAND>``
backend span (``GET``, ``SCAN``, ``COMMAND INFO``...: the checked command name, never its
arguments); its ``db.namespace`` is the connection's name, not the URL or database number.
Readiness probes pass ``traced=False``: a health check every few seconds is not worth a trace.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import redis.asyncio as aioredis
import redis.exceptions as redis_errors

from mesh import tracing
from servers.database.redis.commands import FORBIDDEN_FLAGS, RedisTool, command_info_name
from servers.database.redis.errors import RedisToolError
from servers.database.settings import DatabaseConnection
from servers.database.url_redaction import public_url, redact, url_secrets

log = logging.getLogger("mcp_suite.database.redis")
T = TypeVar("T")


@dataclass
class RedisHandle:
    """A named connection's live client, its limits, and what the server told us about its commands."""

    name: str
    connection: DatabaseConnection
    client: aioredis.Redis
    loop: asyncio.AbstractEventLoop
    flags: dict[str, frozenset[str] | None] = field(default_factory=dict)
    command_info_works: bool = True
    span_attributes: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.span_attributes = {"db.namespace": self.name}

    @property
    def timeout(self) -> float:
        return self.connection.statement_timeout_ms / 1000

    def secrets(self) -> list[str]:
        return url_secrets(self.connection.url.get_secret_value())

    def shown(self) -> str:
        return public_url(self.connection.url.get_secret_value())

    async def call(self, what: str, operation: Callable[[], Awaitable[T]], *, traced: bool = True) -> T:
        """Run ``operation`` under the statement timeout; any failure becomes a redacted :class:`RedisToolError`.

        ``what`` (a command name) names the backend span around it; ``traced=False`` (readiness probes) opens none.
        """
        if not traced:
            return await self._call(what, operation)
        with tracing.backend_span("redis", what, self.span_attributes):
            return await self._call(what, operation)

    async def _call(self, what: str, operation: Callable[[], Awaitable[T]]) -> T:
        try:
            async with asyncio.timeout(self.timeout):
                return await operation()
        except TimeoutError:
            raise RedisToolError(
                "timeout",
                f"{what} on connection {self.name!r} took longer than {self.connection.statement_timeout_ms} ms "
                "(statement_timeout_ms); narrow it (a smaller COUNT, a range) and retry",
            ) from None
        except RedisToolError:
            raise
        except redis_errors.AuthenticationError as exc:
            raise self._error("auth_failed", "Redis refused the credentials", exc) from None
        except (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError) as exc:
            raise self._error("unreachable", f"cannot reach Redis at {self.shown()}", exc) from None
        except redis_errors.ResponseError as exc:
            raise self._error("redis_error", "Redis answered with an error", exc) from None
        except redis_errors.RedisError as exc:
            raise self._error("redis_error", "the Redis client failed", exc) from None

    def _error(self, code: str, summary: str, exc: BaseException) -> RedisToolError:
        detail = redact(str(exc).strip(), self.secrets())
        log.warning("redis call failed", extra={"connection": self.name, "code": code, "detail": detail})
        return RedisToolError(code, f"{summary} (connection {self.name!r}): {detail}")

    async def execute(self, what: str, *parts: str | bytes | int, traced: bool = True) -> Any:
        client = self.client
        return await self.call(what, lambda: client.execute_command(*parts), traced=traced)  # type: ignore[no-untyped-call]

    async def check_flags(self, tool: RedisTool, name: str, args: Sequence[str]) -> None:
        """Second layer: refuse when the server's own ``COMMAND INFO`` flags disqualify the command for ``tool``."""
        if not self.command_info_works:
            return
        key = command_info_name(name, args)
        if key not in self.flags:
            try:
                reply = await self.execute("COMMAND INFO", "COMMAND", "INFO", key)
            except RedisToolError as exc:
                if exc.code != "redis_error":
                    raise
                # A host that forbids COMMAND (some managed services): the allow-list alone decides.
                self.command_info_works = False
                log.warning("COMMAND INFO unavailable; allow-lists only", extra={"connection": self.name})
                return
            entry = reply[0] if isinstance(reply, list) and reply else None
            self.flags[key] = (
                frozenset(_text(flag) for flag in entry[2]) if isinstance(entry, list) and len(entry) > 2 else None
            )
        flags = self.flags[key]
        if flags is None:
            raise RedisToolError(
                "unknown_command",
                f"this Redis does not know {name} (a module command needs its module loaded, e.g. RedisJSON)",
            )
        bad = flags & FORBIDDEN_FLAGS[tool]
        if bad:
            raise RedisToolError(
                "command_not_allowed",
                f"the server flags {name} as {', '.join(sorted(bad))}, which {tool} never runs",
            )


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


_handles: dict[str, RedisHandle] = {}


def redis_handle(name: str, connection: DatabaseConnection) -> RedisHandle:
    """The cached handle for ``connection`` on the running loop (its client connects lazily, on the first command)."""
    url = connection.url.get_secret_value()
    loop = asyncio.get_running_loop()
    key = f"{name}\0{url}"
    handle = _handles.get(key)
    if handle is None or handle.loop is not loop or loop.is_closed():
        timeout = connection.statement_timeout_ms / 1000
        client = aioredis.from_url(
            url,
            socket_connect_timeout=min(timeout, 5.0),
            socket_timeout=timeout + 1.0,
            retry_on_timeout=False,
            protocol=3,
        )
        # Raw replies: redis-py's per-command parsers assume argument shapes we do not control.
        client.response_callbacks.clear()
        handle = RedisHandle(name, connection, client, loop)
        _handles[key] = handle
    return handle


async def close_redis_clients() -> None:
    """Close every client opened on the running loop (and forget those of loops that are gone)."""
    loop = asyncio.get_running_loop()
    for key, handle in list(_handles.items()):
        del _handles[key]
        if handle.loop is loop:
            try:
                await handle.client.aclose()
            except Exception:  # closing must not fail a shutdown
                log.warning("closing a redis client failed", extra={"connection": handle.name})
