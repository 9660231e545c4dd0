"""Which registry a process uses, and how healthy it is.

``registry_from_settings`` picks Consul when ``registry.kind`` is ``consul`` or ``$CONSUL_HTTP_ADDR``
is set, else the static registry. A registry that follows a remote catalog has an async
``running()`` context (its watches) and reports ``degraded_reason``; :func:`registry_running` and
:func:`registry_status` let the gateway use any registry the same way.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any, Protocol, runtime_checkable

from mesh.config import Settings
from mesh.registry import Registry, StaticRegistry


@runtime_checkable
class WatchingRegistry(Protocol):
    """A registry whose catalog lives elsewhere: it must run (watch) and it can be degraded."""

    @property
    def degraded_reason(self) -> str | None: ...

    def running(self) -> AbstractAsyncContextManager[Any]: ...

    def status(self) -> dict[str, Any]: ...


def uses_consul(settings: Settings, environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return settings.registry.kind == "consul" or bool(env.get("CONSUL_HTTP_ADDR"))


def registry_from_settings(
    settings: Settings, environ: Mapping[str, str] | None = None, *, servers: Iterable[str] = ()
) -> Registry:
    """Consul when configured (or ``$CONSUL_HTTP_ADDR`` is set) watching ``servers``, else the static list from the config."""
    if uses_consul(settings, environ):
        from mesh.consul import ConsulEndpoint, ConsulHttp, ConsulRegistry

        endpoint = ConsulEndpoint.from_settings(settings.registry.consul, environ)
        return ConsulRegistry(settings, servers=servers, http=ConsulHttp(endpoint))
    return StaticRegistry(settings.registry.static)


def registry_running(registry: Registry) -> AbstractAsyncContextManager[Any]:
    """The registry's watches for the block (a static registry has none)."""
    return registry.running() if isinstance(registry, WatchingRegistry) else nullcontext()


def registry_status(registry: Registry) -> dict[str, Any]:
    """``kind``, ``degraded`` and ``reason`` (and more for Consul): what /ready and gateway_status show."""
    if isinstance(registry, WatchingRegistry):
        return registry.status()
    return {"kind": "static", "degraded": False, "reason": None}
