"""Load-balancing strategies: which instance of a pool serves the next call.

A balancer chooses among the candidates the caller hands it; the caller has already removed the
instances that are unhealthy, ejected or behind an open circuit breaker. One balancer serves one
pool (one server, or one server group), and it learns about calls through two hooks the caller
invokes around every forwarded call::

    instance = balancer.pick(candidates, key=argument_value)
    balancer.on_start(instance.instance_id)
    started = time.monotonic()
    try:
        ... forward the call ...
    finally:
        balancer.on_finish(instance.instance_id, time.monotonic() - started, ok)

Strategies (:data:`Strategy`, built by :func:`make_balancer`):

``round_robin``
    A rotation that resumes after the previously chosen instance, so an instance joining or
    leaving neither skips nor repeats anyone. O(1) per pick while the pool is unchanged.
``least_connections``
    The fewest calls in flight; ties go round-robin. O(n) over the candidates at worst, O(1)
    when the next instance in the rotation is idle.
``consistent_hash``
    A hash ring with virtual nodes on a key (the value of a configured tool argument), so one
    key sticks to one instance and removing an instance remaps only the keys it owned. Falls back
    to round-robin when there is no key. O(log(n·v)) per pick, plus an O(n) membership check
    that runs in C unless the caller passes the same tuple of candidates as last time.
``p2c``
    Power of two choices over a peak-sensitive, time-decayed EWMA of latency multiplied by the
    calls in flight (Finagle's and Linkerd's "peak EWMA"). An instance never measured is tried
    first; failures count as slow answers. O(1) per pick.

Everything here runs on one event loop thread: no locks. A pick allocates nothing of its own
except the consistent-hash membership check (one tuple of ids, when handed a list rather than
the same tuple again).
"""

from __future__ import annotations

import hashlib
import math
import random
import time
from abc import ABC, abstractmethod
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, ClassVar, Literal, Protocol, TypeVar, get_args

__all__ = [
    "STRATEGIES",
    "Balancer",
    "ConsistentHash",
    "HasInstanceId",
    "LeastConnections",
    "NoInstanceAvailable",
    "PowerOfTwoChoices",
    "RoundRobin",
    "Strategy",
    "make_balancer",
]

Strategy = Literal["round_robin", "least_connections", "consistent_hash", "p2c"]
"""The names a configuration file may use for a balancing strategy."""

STRATEGIES: tuple[Strategy, ...] = get_args(Strategy)

DEFAULT_VIRTUAL_NODES = 128
DEFAULT_DECAY_SECONDS = 10.0
DEFAULT_FAILURE_PENALTY_SECONDS = 1.0

# Recently seen keys keep their hash (keys such as collection names repeat); cleared when full.
_KEY_HASH_CACHE = 4096

# The cost of an instance that has calls in flight but no latency measured yet: larger than any
# real latency, so a new instance gets one call at a time until its first answer arrives.
_UNMEASURED_BUSY_COST = 1e9


class HasInstanceId(Protocol):
    """Anything a balancer can choose: :class:`mesh.registry.ServiceInstance` fits."""

    @property
    def instance_id(self) -> str: ...


_T = TypeVar("_T", bound=HasInstanceId)

_instance_id: Callable[[HasInstanceId], str] = attrgetter("instance_id")


class NoInstanceAvailable(LookupError):
    """``pick`` was given no candidates: every instance of the pool is gone, unhealthy or tripped."""

    code: ClassVar[str] = "no_instance_available"

    def __init__(self, pool: str = "") -> None:
        self.pool = pool
        where = f" of {pool!r}" if pool else ""
        super().__init__(f"no instance{where} is available (none registered, healthy and with a closed circuit)")


class Balancer(ABC):
    """The interface every strategy implements. One balancer per pool; not thread-safe (one event loop)."""

    strategy: ClassVar[Strategy]

    def __init__(self, *, pool: str = "") -> None:
        self.pool = pool

    @abstractmethod
    def pick(self, candidates: Sequence[_T], key: str | None = None) -> _T:
        """Choose one of ``candidates``; raises :class:`NoInstanceAvailable` when there are none."""

    def on_start(self, instance_id: str) -> None:  # noqa: B027 - optional hook
        """A call to ``instance_id`` has been sent."""

    def on_finish(self, instance_id: str, latency_seconds: float, ok: bool) -> None:  # noqa: B027 - optional hook
        """A call to ``instance_id`` has ended after ``latency_seconds``; ``ok`` is False for a failure."""

    def forget(self, instance_id: str) -> None:  # noqa: B027 - optional hook
        """``instance_id`` has left the pool for good: drop what is kept about it."""

    def snapshot(self) -> dict[str, Any]:
        """What the balancer knows, for a status page."""
        return {"strategy": self.strategy}

    def _empty(self) -> NoInstanceAvailable:
        return NoInstanceAvailable(self.pool)


class RoundRobin(Balancer):
    """Each instance in turn; the rotation resumes after the last instance chosen, wherever it now sits.

    A plain counter modulo the pool size skips or repeats instances whenever the pool changes;
    this remembers the last choice instead. While the candidate list is unchanged the next pick
    is the following index (O(1)); after a change the last choice is looked up once (O(n)), and
    if it has left, the instance that followed it comes next. The pool's order must be stable
    from one call to the next (the registries keep it so).
    """

    strategy: ClassVar[Strategy] = "round_robin"

    def __init__(self, *, pool: str = "") -> None:
        super().__init__(pool=pool)
        self._last_id: str | None = None
        self._last_index = -1
        self._successor_id: str | None = None

    def pick(self, candidates: Sequence[_T], key: str | None = None) -> _T:
        count = len(candidates)
        if not count:
            raise self._empty()
        last = self._last_index
        if 0 <= last < count and candidates[last].instance_id == self._last_id:
            index = last + 1 if last + 1 < count else 0
        else:
            index = self._resume(candidates)
        chosen = candidates[index]
        self._last_index = index
        self._last_id = chosen.instance_id
        self._successor_id = candidates[index + 1 if index + 1 < count else 0].instance_id
        return chosen

    def _resume(self, candidates: Sequence[HasInstanceId]) -> int:
        """Where the rotation goes on after the candidate list changed: O(n), once per change."""
        count = len(candidates)
        last_id, successor_id = self._last_id, self._successor_id
        successor = -1
        for index, candidate in enumerate(candidates):
            instance_id = candidate.instance_id
            if instance_id == last_id:
                return index + 1 if index + 1 < count else 0
            if instance_id == successor_id:
                successor = index
        if successor >= 0:
            return successor  # the last choice left: the one that followed it is next
        # Both left (or this is the first pick): whoever now holds the old position.
        position = max(self._last_index, 0)
        return position if position < count else 0

    def snapshot(self) -> dict[str, Any]:
        return {"strategy": self.strategy, "last": self._last_id}


class LeastConnections(Balancer):
    """The instance with the fewest calls in flight (counted by ``on_start``/``on_finish``); ties round-robin.

    The scan starts just after the previous choice and stops at the first idle instance, so under
    light load a pick looks at one or two candidates and idle instances take turns.
    """

    strategy: ClassVar[Strategy] = "least_connections"

    def __init__(self, *, pool: str = "") -> None:
        super().__init__(pool=pool)
        self._in_flight: dict[str, int] = {}
        self._next = 0

    def pick(self, candidates: Sequence[_T], key: str | None = None) -> _T:
        count = len(candidates)
        if not count:
            raise self._empty()
        in_flight = self._in_flight
        start = self._next if self._next < count else 0
        best = start
        best_load = in_flight.get(candidates[start].instance_id, 0)
        if best_load:
            for step in range(1, count):
                index = start + step
                if index >= count:
                    index -= count
                load = in_flight.get(candidates[index].instance_id, 0)
                if load < best_load:
                    best, best_load = index, load
                    if not load:
                        break
        self._next = best + 1
        return candidates[best]

    def in_flight(self, instance_id: str) -> int:
        """Calls to ``instance_id`` started and not yet finished."""
        return self._in_flight.get(instance_id, 0)

    def on_start(self, instance_id: str) -> None:
        self._in_flight[instance_id] = self._in_flight.get(instance_id, 0) + 1

    def on_finish(self, instance_id: str, latency_seconds: float, ok: bool) -> None:
        remaining = self._in_flight.get(instance_id, 0) - 1
        if remaining > 0:
            self._in_flight[instance_id] = remaining
        else:
            self._in_flight.pop(instance_id, None)

    def forget(self, instance_id: str) -> None:
        self._in_flight.pop(instance_id, None)

    def snapshot(self) -> dict[str, Any]:
        return {"strategy": self.strategy, "in_flight": dict(self._in_flight)}


def _hash64(text: str) -> int:
    """A stable 64-bit hash (BLAKE2b): the same in every process, unlike the salted built-in ``hash``."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big")


class ConsistentHash(Balancer):
    """A hash ring: ``virtual_nodes`` points per instance; a key goes to the first point at or after its hash.

    The ring holds every instance seen recently. An instance absent from the candidates keeps its
    points, and a key that lands on one walks on to the next point of a present instance — the
    same answer a ring rebuilt without it would give, so an instance that leaves (or is filtered
    out for one call) costs no rebuild and takes only its own keys with it. The ring is re-sorted
    only when an instance it has never held joins, or when absent instances outnumber present
    ones (then they are dropped). Candidate lists are compared by their ids (a tuple compare in
    C); passing the same *tuple* object as last time skips even that.
    """

    strategy: ClassVar[Strategy] = "consistent_hash"

    def __init__(self, *, virtual_nodes: int = DEFAULT_VIRTUAL_NODES, pool: str = "") -> None:
        if virtual_nodes < 1:
            raise ValueError("virtual_nodes must be at least 1")
        super().__init__(pool=pool)
        self.virtual_nodes = virtual_nodes
        self._fallback = RoundRobin(pool=pool)
        self._last: Sequence[HasInstanceId] | None = None
        self._ids: tuple[str, ...] = ()
        self._position: dict[str, int] = {}
        self._points: dict[str, list[int]] = {}
        self._ring_hashes: list[int] = []
        self._ring_owners: list[str] = []
        self._key_hashes: dict[str, int] = {}

    def pick(self, candidates: Sequence[_T], key: str | None = None) -> _T:
        if not candidates:
            raise self._empty()
        if key is None:
            return self._fallback.pick(candidates)
        if candidates is not self._last or type(candidates) is not tuple:
            ids = tuple(map(_instance_id, candidates))
            if ids != self._ids:
                self._sync(ids)
            self._last = candidates
        point = self._key_hashes.get(key)
        if point is None:
            point = _hash64(key)
            if len(self._key_hashes) >= _KEY_HASH_CACHE:
                self._key_hashes.clear()
            self._key_hashes[key] = point
        hashes = self._ring_hashes
        index = bisect_left(hashes, point)
        if index == len(hashes):
            index = 0
        found = self._position.get(self._ring_owners[index])
        return candidates[self._walk(index) if found is None else found]

    def _walk(self, index: int) -> int:
        """The point at ``index`` belongs to an absent instance: the next point of a present one."""
        owners, position = self._ring_owners, self._position
        size = len(owners)
        for _ in range(size):
            index = index + 1 if index + 1 < size else 0
            found = position.get(owners[index])
            if found is not None:
                return found
        raise AssertionError("every candidate has points on the ring")  # pragma: no cover

    def _sync(self, ids: tuple[str, ...]) -> None:
        self._ids = ids
        self._position = {instance_id: index for index, instance_id in enumerate(ids)}
        points = self._points
        joined = [instance_id for instance_id in self._position if instance_id not in points]
        absent = len(points) - (len(self._position) - len(joined))
        if not joined and absent <= len(self._position):
            return
        if absent > len(self._position):
            points = self._points = {member: points[member] for member in self._position if member in points}
        for member in joined:
            points[member] = [_hash64(f"{member}#{replica}") for replica in range(self.virtual_nodes)]
        ring = sorted((point, member) for member, member_points in points.items() for point in member_points)
        self._ring_hashes = [point for point, _ in ring]
        self._ring_owners = [member for _, member in ring]

    def forget(self, instance_id: str) -> None:
        self._ids, self._last = (), None  # re-read the next candidate list, whatever it is
        if self._points.pop(instance_id, None) is not None:
            keep = [(h, o) for h, o in zip(self._ring_hashes, self._ring_owners, strict=True) if o != instance_id]
            self._ring_hashes = [point for point, _ in keep]
            self._ring_owners = [member for _, member in keep]

    def snapshot(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "virtual_nodes": self.virtual_nodes,
            "members": sorted(self._position),
            "on_ring": sorted(self._points),
        }


@dataclass(slots=True)
class _Load:
    ewma: float = 0.0
    stamp: float = 0.0
    in_flight: int = 0
    samples: int = 0


class PowerOfTwoChoices(Balancer):
    """Two candidates drawn at random; the one with the lower cost wins.

    cost = latency estimate x (calls in flight + 1). The estimate is peak-sensitive: a slower
    answer raises it at once, and it decays toward zero with time constant ``decay_seconds``
    (so an instance that was slow gets tried again after a while, and faster answers bring it
    down). A failed call counts as an answer of ``max(2 x latency, failure_penalty_seconds)``,
    so an instance that fails fast does not attract traffic. An instance never measured costs
    nothing while idle (it is tried) and more than any measured one while it has a call in flight
    (it is not piled on before its first answer).
    """

    strategy: ClassVar[Strategy] = "p2c"

    def __init__(
        self,
        *,
        decay_seconds: float = DEFAULT_DECAY_SECONDS,
        failure_penalty_seconds: float = DEFAULT_FAILURE_PENALTY_SECONDS,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
        pool: str = "",
    ) -> None:
        if decay_seconds <= 0:
            raise ValueError("decay_seconds must be positive")
        if failure_penalty_seconds < 0:
            raise ValueError("failure_penalty_seconds may not be negative")
        super().__init__(pool=pool)
        self.decay_seconds = decay_seconds
        self.failure_penalty_seconds = failure_penalty_seconds
        self._random = (rng or random.Random()).random
        self._clock = clock
        self._loads: dict[str, _Load] = {}

    def pick(self, candidates: Sequence[_T], key: str | None = None) -> _T:
        count = len(candidates)
        if count < 2:
            if not count:
                raise self._empty()
            return candidates[0]
        draw = self._random
        first = int(draw() * count)
        second = int(draw() * (count - 1))
        if second >= first:
            second += 1
        a, b = candidates[first], candidates[second]
        now = self._clock()
        return b if self._cost(b.instance_id, now) < self._cost(a.instance_id, now) else a

    def cost(self, instance_id: str) -> float:
        """The current cost of ``instance_id`` (what ``pick`` compares)."""
        return self._cost(instance_id, self._clock())

    def _cost(self, instance_id: str, now: float) -> float:
        load = self._loads.get(instance_id)
        if load is None:
            return 0.0
        estimate = self._decay(load, now)
        if estimate == 0.0:
            return _UNMEASURED_BUSY_COST + load.in_flight if load.in_flight else 0.0
        return estimate * (load.in_flight + 1)

    def _decay(self, load: _Load, now: float) -> float:
        elapsed = now - load.stamp
        if elapsed > 0.0 and load.ewma:
            load.ewma *= math.exp(-elapsed / self.decay_seconds)
            load.stamp = now
        return load.ewma

    def on_start(self, instance_id: str) -> None:
        load = self._loads.get(instance_id)
        if load is None:
            load = self._loads[instance_id] = _Load(stamp=self._clock())
        load.in_flight += 1

    def on_finish(self, instance_id: str, latency_seconds: float, ok: bool) -> None:
        now = self._clock()
        load = self._loads.get(instance_id)
        if load is None:
            load = self._loads[instance_id] = _Load(stamp=now)
        elif load.in_flight:
            load.in_flight -= 1
        sample = latency_seconds if ok else max(2.0 * latency_seconds, self.failure_penalty_seconds)
        if not load.samples or sample > load.ewma:
            load.ewma = sample
        else:
            weight = math.exp(-max(now - load.stamp, 0.0) / self.decay_seconds)
            load.ewma = load.ewma * weight + sample * (1.0 - weight)
        load.stamp = now
        load.samples += 1

    def forget(self, instance_id: str) -> None:
        self._loads.pop(instance_id, None)

    def snapshot(self) -> dict[str, Any]:
        now = self._clock()
        return {
            "strategy": self.strategy,
            "instances": {
                instance_id: {
                    "latency_estimate_seconds": self._decay(load, now),
                    "in_flight": load.in_flight,
                    "samples": load.samples,
                    "cost": self._cost(instance_id, now),
                }
                for instance_id, load in self._loads.items()
            },
        }


def make_balancer(
    strategy: Strategy = "round_robin",
    *,
    pool: str = "",
    virtual_nodes: int = DEFAULT_VIRTUAL_NODES,
    decay_seconds: float = DEFAULT_DECAY_SECONDS,
    failure_penalty_seconds: float = DEFAULT_FAILURE_PENALTY_SECONDS,
    rng: random.Random | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Balancer:
    """A new balancer for one pool. Options that do not apply to ``strategy`` are ignored."""
    if strategy == "round_robin":
        return RoundRobin(pool=pool)
    if strategy == "least_connections":
        return LeastConnections(pool=pool)
    if strategy == "consistent_hash":
        return ConsistentHash(virtual_nodes=virtual_nodes, pool=pool)
    if strategy == "p2c":
        return PowerOfTwoChoices(
            decay_seconds=decay_seconds,
            failure_penalty_seconds=failure_penalty_seconds,
            rng=rng,
            clock=clock,
            pool=pool,
        )
    raise ValueError(f"unknown balancing strategy {strategy!r}; allowed: {', '.join(STRATEGIES)}")
