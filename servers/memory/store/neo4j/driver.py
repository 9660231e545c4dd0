"""How the Neo4j store opens its driver (the official async driver, or a factory tests put in its place) and
what a driver failure becomes: a Neo4j that is down, or refuses the credentials, is ``store_unavailable``."""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

from neo4j import AsyncGraphDatabase
from neo4j.exceptions import AuthError, ServiceUnavailable, SessionExpired

from servers.memory.errors import store_unavailable

DriverFactory = Callable[..., Any]
T = TypeVar("T")
P = ParamSpec("P")
DOWN = (ServiceUnavailable, SessionExpired, AuthError)


def guarded(method: Callable[P, Coroutine[Any, Any, T]]) -> Callable[P, Coroutine[Any, Any, T]]:
    """Answer a Neo4j that is down (or refuses the credentials) with ``store_unavailable``, never a crash."""

    @functools.wraps(method)
    async def run(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await method(*args, **kwargs)
        except DOWN as exc:
            address = getattr(args[0], "address", "?")
            raise store_unavailable(f"neo4j at {address}: {type(exc).__name__}") from exc

    return run


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
