"""What a store's driver failure becomes: a store that cannot be reached answers ``store_unavailable``."""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from servers.memory.errors import store_unavailable

T = TypeVar("T")
P = ParamSpec("P")


def unavailable_on(
    down: tuple[type[BaseException], ...], engine: str
) -> Callable[[Callable[P, Coroutine[Any, Any, T]]], Callable[P, Coroutine[Any, Any, T]]]:
    """A decorator of store methods: any of ``down`` becomes ``store_unavailable`` naming ``engine`` and the
    store's ``address`` and the failure's type (never its text, which may hold credentials)."""

    def decorate(method: Callable[P, Coroutine[Any, Any, T]]) -> Callable[P, Coroutine[Any, Any, T]]:
        @functools.wraps(method)
        async def run(*args: P.args, **kwargs: P.kwargs) -> T:
            try:
                return await method(*args, **kwargs)
            except down as exc:
                address = getattr(args[0], "address", "?")
                raise store_unavailable(f"{engine} at {address}: {type(exc).__name__}") from exc

        return run

    return decorate
