"""Service instances and where they are listed: the Registry protocol and the static registry.

A :class:`ServiceInstance` is one running copy of a server, reachable over streamable HTTP
(``url``) or launched over stdio (``command``). A registry lists instances by server name and
accepts registrations; the static registry holds what the config file names plus what processes
register at run time. The Consul registry (mesh/consul) implements the same protocol.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from mesh.config import StaticInstance


@dataclass(frozen=True)
class ServiceInstance:
    """One reachable copy of a server."""

    server: str
    url: str | None = None
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    meta: Mapping[str, str] = field(default_factory=dict)
    instance_id: str = ""

    def __post_init__(self) -> None:
        if (self.url is None) == (self.command is None):
            raise ValueError("a service instance needs exactly one of url or command")
        if not self.instance_id:
            object.__setattr__(self, "instance_id", f"{self.server}-{self.fingerprint()[:8]}")

    def fingerprint(self) -> str:
        where = self.url or " ".join((self.command or "", *self.args))
        return hashlib.sha256(f"{self.server}|{where}".encode()).hexdigest()

    @property
    def address(self) -> str:
        """A short human-readable location: the URL, or the command line."""
        return self.url or " ".join((self.command or "", *self.args))

    @classmethod
    def from_static(cls, server: str, entry: StaticInstance, index: int = 0) -> ServiceInstance:
        instance = cls(server=server, url=entry.url, command=entry.command, args=entry.args, env=dict(entry.env))
        return (
            instance if index == 0 else cls(**{**instance.__dict__, "instance_id": f"{instance.instance_id}-{index}"})
        )


Listener = Callable[[str], None]


class Registry(Protocol):
    """Where instances are found. ``register``/``deregister`` are the hook a server process calls."""

    def instances(self, server: str) -> list[ServiceInstance]: ...

    def servers(self) -> list[str]: ...

    def register(self, instance: ServiceInstance) -> None: ...

    def deregister(self, instance: ServiceInstance) -> None: ...

    def subscribe(self, listener: Listener) -> None: ...


class StaticRegistry:
    """Instances from the config key ``registry.static`` plus run-time registrations, held in memory."""

    def __init__(self, static: Mapping[str, tuple[StaticInstance, ...]] | None = None) -> None:
        self._lock = threading.Lock()
        self._by_server: dict[str, dict[str, ServiceInstance]] = {}
        self._listeners: list[Listener] = []
        for server, entries in (static or {}).items():
            for index, entry in enumerate(entries):
                instance = ServiceInstance.from_static(server, entry, index)
                self._by_server.setdefault(server, {})[instance.instance_id] = instance

    def instances(self, server: str) -> list[ServiceInstance]:
        with self._lock:
            return list(self._by_server.get(server, {}).values())

    def servers(self) -> list[str]:
        with self._lock:
            return sorted(name for name, found in self._by_server.items() if found)

    def register(self, instance: ServiceInstance) -> None:
        with self._lock:
            self._by_server.setdefault(instance.server, {})[instance.instance_id] = instance
        self._notify(instance.server)

    def deregister(self, instance: ServiceInstance) -> None:
        with self._lock:
            removed = self._by_server.get(instance.server, {}).pop(instance.instance_id, None)
        if removed is not None:
            self._notify(instance.server)

    def subscribe(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def _notify(self, server: str) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener(server)
