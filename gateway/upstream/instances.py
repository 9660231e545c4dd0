"""The instances of one upstream server: connection, health, breaker, listings, admission.

A :class:`Member` is one instance as the gateway knows it. It serves calls when it is connected,
healthy, admitted (its tool schemas match its pool's) and its breaker is not open. A pool is
*available* when at least one member serves; the catalog lists only available pools' tools.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gateway.settings import BreakerPolicy, Strategy
from gateway.upstream.mcp_client import Upstream
from mesh.balancer import Balancer, make_balancer
from mesh.registry import ServiceInstance
from mesh.resilience import BreakerSettings, CircuitBreaker


@dataclass
class Listing:
    """What an instance offers, as raw wire dicts."""

    tools: list[dict[str, Any]] = field(default_factory=list)
    resources: list[dict[str, Any]] = field(default_factory=list)
    templates: list[dict[str, Any]] = field(default_factory=list)
    prompts: list[dict[str, Any]] = field(default_factory=list)

    def tools_fingerprint(self) -> str:
        """Hash of the tool names and their input/output schemas: replicas of one pool must agree."""
        shape = sorted(
            (
                tool["name"],
                json.dumps(tool.get("inputSchema"), sort_keys=True),
                json.dumps(tool.get("outputSchema"), sort_keys=True),
            )
            for tool in self.tools
        )
        return hashlib.sha256(json.dumps(shape).encode()).hexdigest()[:16]

    def fingerprint(self) -> str:
        """Hash of everything listed: a change means the clients' lists changed."""
        return hashlib.sha256(
            json.dumps([self.tools, self.resources, self.templates, self.prompts], sort_keys=True).encode()
        ).hexdigest()[:16]


def _breaker_for(instance_id: str, policy: BreakerPolicy) -> CircuitBreaker:
    """A breaker with the resolved thresholds; fields no level set keep the breaker's defaults."""
    chosen = policy.model_dump(exclude_none=True)
    if "window" in chosen or "min_calls" in chosen:
        defaults = BreakerSettings()
        window = chosen.get("window", defaults.window)
        chosen["min_calls"] = min(chosen.get("min_calls", defaults.min_calls), window)
    return CircuitBreaker(instance_id, BreakerSettings(**chosen))


_SERVING_FIELDS = frozenset({"upstream", "healthy", "admitted"})


@dataclass
class Member:
    """One instance of a server, with everything the router and the status page need."""

    instance: ServiceInstance
    breaker: CircuitBreaker
    upstream: Upstream | None = None
    listing: Listing | None = None
    healthy: bool = False
    admitted: bool = True
    last_error: str | None = None
    last_seen: float | None = None
    inflight: int = 0
    calls: int = 0
    failures: int = 0
    probe_failures: int = 0
    on_change: Callable[[], None] | None = field(default=None, repr=False, compare=False)

    def __setattr__(self, name: str, value: Any) -> None:
        # What decides whether the member serves: a change tells the pool to recompute its serving list.
        changed = name in _SERVING_FIELDS and getattr(self, name, None) is not value
        object.__setattr__(self, name, value)
        if changed and self.on_change is not None:
            self.on_change()

    @property
    def instance_id(self) -> str:
        return self.instance.instance_id

    def serves(self) -> bool:
        return self.upstream is not None and self.healthy and self.admitted and self.breaker.state != "open"

    def status(self) -> dict[str, Any]:
        return {
            "id": self.instance_id,
            "server": self.instance.server,
            "address": self.instance.address,
            "protocol": self.upstream.protocol_version if self.upstream else None,
            "healthy": self.healthy,
            "admitted": self.admitted,
            "serving": self.serves(),
            "inflight": self.inflight,
            "calls": self.calls,
            "failures": self.failures,
            "probe_failures": self.probe_failures,
            "last_error": self.last_error,
            "last_seen_seconds_ago": None if self.last_seen is None else round(time.monotonic() - self.last_seen, 3),
            "breaker": self.breaker.snapshot(),
        }


class ServerPool:
    """All members of one server, the balancer that picks among them, and the admitted schema."""

    def __init__(
        self,
        server: str,
        *,
        strategy: Strategy,
        hash_argument: str | None,
        breaker_policy: BreakerPolicy,
        on_breaker_change: Callable[[str], None],
    ) -> None:
        self.server = server
        self.strategy = strategy
        self.hash_argument = hash_argument
        self.balancer: Balancer = make_balancer(strategy, pool=server)
        self.members: dict[str, Member] = {}
        self.reference_fingerprint: str | None = None
        self._breaker_policy = breaker_policy
        self._serving: tuple[Member, ...] | None = None
        self._recheck_at: float | None = None
        self._on_breaker_change = on_breaker_change

    def add(self, instance: ServiceInstance) -> Member:
        member = self.members.get(instance.instance_id)
        if member is None:
            breaker = _breaker_for(instance.instance_id, self._breaker_policy)
            breaker.on_state_change(self._breaker_changed)
            member = Member(instance=instance, breaker=breaker, on_change=self._invalidate)
            self.members[instance.instance_id] = member
            self._invalidate()
        return member

    def remove(self, instance_id: str) -> Member | None:
        member = self.members.pop(instance_id, None)
        if member is not None:
            member.on_change = None
            self._invalidate()
        return member

    def _invalidate(self) -> None:
        self._serving = None

    def _breaker_changed(self, _old: str, _new: str) -> None:
        self._invalidate()
        self._on_breaker_change(self.server)

    def admit_all(self) -> None:
        """Admit the members whose tool schemas match the pool's reference; report the others.

        The reference stays what it was while any healthy member still offers it; otherwise it is
        the schema most healthy members offer, ties going to the earliest registered member.
        """
        listed = [m for m in self.members.values() if m.healthy and m.listing is not None]
        prints = {m.instance_id: m.listing.tools_fingerprint() for m in listed if m.listing is not None}
        if self.reference_fingerprint not in prints.values():
            counts: dict[str, int] = {}
            for fingerprint in prints.values():
                counts[fingerprint] = counts.get(fingerprint, 0) + 1
            best = max(counts.values(), default=0)
            self.reference_fingerprint = next((f for f in prints.values() if counts[f] == best), None)
        for member in listed:
            fingerprint = prints[member.instance_id]
            member.admitted = fingerprint == self.reference_fingerprint
            if not member.admitted:
                member.last_error = f"not admitted: its tool schemas ({fingerprint}) differ from the pool's ({self.reference_fingerprint})"

    def serving(self) -> tuple[Member, ...]:
        """The members that serve, in registration order; the same tuple object until something changes.

        Changes of membership, health, admission and breaker state clear the cache; an open breaker's
        cool-down ending (which happens on the clock, not on an event) is when it is recomputed too.
        """
        serving = self._serving
        if serving is None or (self._recheck_at is not None and time.monotonic() >= self._recheck_at):
            serving = self._serving = tuple(member for member in self.members.values() if member.serves())
            waits = [m.breaker.seconds_until_trial for m in self.members.values() if m.breaker.state == "open"]
            self._recheck_at = time.monotonic() + min(waits) if waits else None
        return serving

    def reference(self) -> Member | None:
        """The member whose listing stands for the pool: a serving one, else None."""
        serving = self.serving()
        return serving[0] if serving else None

    def available(self) -> bool:
        return bool(self.serving())

    def status(self) -> dict[str, Any]:
        return {
            "server": self.server,
            "strategy": self.strategy,
            "available": self.available(),
            "schema": self.reference_fingerprint,
            "instances": [member.status() for member in self.members.values()],
        }
