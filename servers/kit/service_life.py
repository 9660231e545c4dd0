"""A server's service through its life: opened and warmed beside the serving, found again by readiness.

:func:`service_lifespan` is the ``lifespan=`` of an ``MCPServer`` holding one service: it opens the
service, starts its background work beside the serving (warm-ups, loops) and, whatever happens,
cancels that work and closes the service, shielded from the cancellation. :class:`LiveServices`
remembers the service of each server built in this process by its settings, so that readiness
reports the live one (its backends, its warm state) instead of opening a second.
:func:`ping_all` runs one check per backend with a deadline each; :func:`ping_backends` pings
every backend of a service.
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Generic, Protocol, TypeVar

import anyio

from servers.kit.tool_errors import CodedToolError

S = TypeVar("S")
Step = Callable[[], Awaitable[Any]]
Background = Callable[[], Coroutine[Any, Any, Any]]
"""Work a server runs beside the serving until it stops (a warm-up, a loop)."""


async def _nothing() -> None:
    return None


def service_lifespan(
    service: S, close: Step, background: Sequence[Background] = (), open_first: Step = _nothing
) -> Callable[[Any], AbstractAsyncContextManager[S]]:
    """A lifespan yielding ``service``: ``open_first``, then ``background`` beside the serving, then ``close``.

    The background steps run beside the serving, not before it: a stdio client's initialize must
    not wait for engine imports or a model (a call that needs them waits for the same warm-up).
    """

    @asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[S]:
        await open_first()
        async with anyio.create_task_group() as group:
            for step in background:
                group.start_soon(step)
            try:
                yield service
            finally:
                group.cancel_scope.cancel()
                with anyio.CancelScope(shield=True):
                    await close()

    return lifespan


class LiveServices(Generic[S]):
    """The service of each server built in this process, found by its settings object; both held weakly.

    An entry is keyed by ``id(settings)`` and answers only while that very object is alive: a new
    settings object that reuses a dead one's id finds nothing (not the other server's service).
    """

    def __init__(self) -> None:
        self._live: dict[int, tuple[weakref.ref[Any], weakref.ref[Any]]] = {}

    def add(self, settings: object, service: S) -> S:
        self._live = {key: refs for key, refs in self._live.items() if refs[0]() is not None and refs[1]() is not None}
        self._live[id(settings)] = (weakref.ref(settings), weakref.ref(service))
        return service

    def get(self, settings: object) -> S | None:
        """The live service built with this ``settings`` object, or None."""
        refs = self._live.get(id(settings))
        if refs is None or refs[0]() is not settings:
            return None
        found: S | None = refs[1]()
        return found

    @asynccontextmanager
    async def live_or_fresh(
        self, settings: object, make: Callable[[], S], close: Callable[[S], Awaitable[Any]]
    ) -> AsyncIterator[tuple[S, bool]]:
        """``(service, live)``: the live service of ``settings``, or one made for the check and closed after it."""
        found = self.get(settings)
        if found is not None:
            yield found, True
            return
        fresh = make()
        try:
            yield fresh, False
        finally:
            await close(fresh)


async def ping_all(names: Iterable[str], ping: Callable[[str], Awaitable[str]], timeout: float) -> dict[str, str]:
    """``backend <name>`` to ``ok (<answer>)`` or why not, for each name; a failed one reads ``unavailable: ...``."""
    checks: dict[str, str] = {}
    for name in sorted(names):
        try:
            with anyio.fail_after(timeout):
                checks[f"backend {name}"] = f"ok ({await ping(name)})"
        except TimeoutError:
            checks[f"backend {name}"] = f"no answer within {timeout:.0f}s"
        except (CodedToolError, OSError, RuntimeError, ValueError) as exc:
            checks[f"backend {name}"] = f"unavailable: {exc}"
    return checks


class _Pingable(Protocol):
    async def ping(self) -> str: ...


class BackendService(Protocol):
    """A service of named backends, each opened on first use."""

    @property
    def backends(self) -> Mapping[str, Any]: ...

    async def backend(self, name: str | None) -> _Pingable: ...


async def ping_backends(service: BackendService, timeout: float) -> dict[str, str]:
    """:func:`ping_all` over every backend of ``service`` (each opened as a call would open it)."""

    async def ping(name: str) -> str:
        return await (await service.backend(name)).ping()

    return await ping_all(service.backends, ping, timeout)


def all_ok(checks: dict[str, str]) -> bool:
    return all(value.startswith("ok (") for value in checks.values())
