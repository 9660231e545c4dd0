"""One Neo4j async driver per connection, opened lazily and reused; the factory can be swapped for a double.

The connection URL carries everything: ``neo4j://user:password@host:7687/database``. The user
name and password (percent-decoded) become the driver's basic auth, the path names the database
(the server's default when absent), and the driver itself gets only ``scheme://host:port``, so
the password never reaches a driver log line or error. Drivers are cached per (event loop,
connection) and closed by :func:`close_neo4j_drivers`. Tests swap the factory with
:func:`use_driver_factory` (see ``tests/support/neo4j_double.py``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from neo4j import AsyncGraphDatabase

from servers.database.neo4j.errors import Neo4jToolError
from servers.database.settings import DatabaseConnection
from servers.database.url_redaction import public_url, url_secrets

log = logging.getLogger("mcp_suite.database.neo4j")

# (driver uri without credentials, (user, password) or None) -> an object with the AsyncDriver API used here:
# ``session(database=..., default_access_mode=..., fetch_size=...)``, ``verify_connectivity()``, ``close()``.
DriverFactory = Callable[[str, tuple[str, str] | None], Any]


def real_driver(uri: str, auth: tuple[str, str] | None) -> Any:
    return AsyncGraphDatabase.driver(uri, auth=auth)


@dataclass(frozen=True)
class Neo4jTarget:
    """Where a connection points, split for the driver: the URI without secrets, the auth, the database."""

    uri: str
    auth: tuple[str, str] | None
    database: str | None


def parse_target(url: str) -> Neo4jTarget:
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        raise Neo4jToolError("invalid_url", f"the connection url {public_url(url)} is not a valid URL") from None
    if not host:
        raise Neo4jToolError("invalid_url", f"the connection url {public_url(url)} names no host")
    netloc = f"[{host}]" if ":" in host else host
    uri = f"{parts.scheme}://{netloc}" + (f":{port}" if port else "")
    auth = (unquote(parts.username or ""), unquote(parts.password or "")) if parts.username is not None else None
    database = unquote(parts.path.strip("/")) or None
    return Neo4jTarget(uri=uri, auth=auth, database=database)


@dataclass
class Neo4jHandle:
    name: str
    connection: DatabaseConnection
    target: Neo4jTarget
    driver: Any
    loop: asyncio.AbstractEventLoop

    @property
    def timeout(self) -> float:
        return self.connection.statement_timeout_ms / 1000

    def secrets(self) -> list[str]:
        found = url_secrets(self.connection.url.get_secret_value())
        if self.target.auth and self.target.auth[1]:
            found.append(self.target.auth[1])
        return found


_factory: DriverFactory = real_driver
_handles: dict[str, Neo4jHandle] = {}


def neo4j_handle(name: str, connection: DatabaseConnection) -> Neo4jHandle:
    """The cached handle for ``connection`` on the running loop (the driver connects on first use)."""
    url = connection.url.get_secret_value()
    loop = asyncio.get_running_loop()
    key = f"{name}\0{url}"
    handle = _handles.get(key)
    if handle is None or handle.loop is not loop:
        target = parse_target(url)
        handle = Neo4jHandle(name, connection, target, _factory(target.uri, target.auth), loop)
        _handles[key] = handle
    return handle


async def close_neo4j_drivers() -> None:
    """Close every driver opened on the running loop (and forget those of loops that are gone)."""
    loop = asyncio.get_running_loop()
    for key, handle in list(_handles.items()):
        del _handles[key]
        if handle.loop is loop:
            try:
                await handle.driver.close()
            except Exception:  # closing must not fail a shutdown
                log.warning("closing a neo4j driver failed", extra={"connection": handle.name})


@contextmanager
def use_driver_factory(factory: DriverFactory) -> Iterator[None]:
    """Open drivers with ``factory`` inside the block (tests: a double); cached drivers are forgotten around it."""
    global _factory
    previous = _factory
    _factory = factory
    _handles.clear()
    try:
        yield
    finally:
        _factory = previous
        _handles.clear()
