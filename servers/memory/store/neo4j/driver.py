"""How the Neo4j store opens its driver (the official async driver, or a factory tests put in its place) and
what a driver failure becomes: a Neo4j that is down, or refuses the credentials, is ``store_unavailable``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from neo4j import AsyncGraphDatabase
from neo4j.exceptions import AuthError, ServiceUnavailable, SessionExpired

from servers.memory.store.unavailable import unavailable_on

DriverFactory = Callable[..., Any]
DOWN = (ServiceUnavailable, SessionExpired, AuthError)


guarded = unavailable_on(DOWN, "neo4j")
"""A Neo4j that is down (or refuses the credentials) answers ``store_unavailable``, never a crash."""


def _official(uri: str, auth: tuple[str, str] | None, **config: Any) -> Any:
    return AsyncGraphDatabase.driver(uri, auth=auth, **config)


_factory: DriverFactory = _official


def open_driver(uri: str, auth: tuple[str, str] | None, **config: Any) -> Any:
    """A driver for ``uri`` (nothing connects until the first session)."""
    return _factory(uri, auth, **config)


@contextmanager
def use_driver_factory(factory: DriverFactory) -> Iterator[None]:
    """Open drivers with ``factory`` inside the block (tests: ``tests/support/neo4j_memory_double.py``)."""
    global _factory
    previous, _factory = _factory, factory
    try:
        yield
    finally:
        _factory = previous
