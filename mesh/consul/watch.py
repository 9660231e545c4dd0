"""Blocking queries, done the way Consul documents them.

A blocking query sends the last ``X-Consul-Index`` as ``index`` and a ``wait``; Consul holds the
request until the index moves past it or the wait ends (plus up to wait/16 of jitter). A return
is no promise of a change, so callers compare results before acting. The index rules
(https://developer.hashicorp.com/consul/api-docs/features/blocking, "Implementation details"):

- if the returned index is lower than the one sent, the state was reset (a snapshot restore, a
  new leader with other data, a deleted and recreated key): reset and read afresh;
- an index below 1 (or none) is never sent back as is: ``index=0`` does not block, so a watcher
  that did that would spin; it is treated as 1. A reset therefore sends ``index=1``, which any
  real state has passed, so it answers at once with the current state and its index;
- errors back off with jitter, so a fleet of gateways does not stampede a recovering agent;
- an answer filtered by ACLs (``X-Consul-Results-Filtered-By-ACLs``) is handed on like any other,
  but then re-read without blocking on the same back-off: granting the token its rule moves no
  index, so a blocking query would only see it when its wait ends.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio

from mesh.consul.http import ConsulHttp, ConsulRefused, ConsulResponse, ConsulUnavailable

log = logging.getLogger("mcp_suite.consul.watch")


def next_index(sent: int, returned: int | None) -> int:
    """The index to send on the next blocking query, after sending ``sent`` and getting ``returned``."""
    if returned is None or returned < 1:
        return 1  # index=0 would not block: never spin on it
    if returned < sent:
        return 1  # went backwards: reset; index 1 is below any real state, so the next read answers at once
    return returned


def go_duration(seconds: float) -> str:
    """A duration Consul (Go's time.ParseDuration) reads: ``1500ms``."""
    return f"{max(1, round(seconds * 1000))}ms"


@dataclass
class Backoff:
    """Exponential back-off with equal jitter: half the step is fixed, half random."""

    base_seconds: float = 0.25
    cap_seconds: float = 15.0
    attempt: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def next(self) -> float:
        step: float = min(self.cap_seconds, self.base_seconds * float(2 ** min(self.attempt, 30)))
        self.attempt += 1
        return step / 2 + self.rng.uniform(0, step / 2)

    def reset(self) -> None:
        self.attempt = 0


OnResult = Callable[[ConsulResponse], Awaitable[None]]
OnError = Callable[[str], None]


async def watch_blocking(
    http: ConsulHttp,
    path: str,
    params: Mapping[str, Any],
    *,
    wait_seconds: float,
    on_result: OnResult,
    on_error: OnError,
    backoff: Backoff | None = None,
    allow: tuple[int, ...] = (),
) -> None:
    """Follow ``path`` with blocking queries until cancelled; ``on_result`` gets every answer (changed or not)."""
    backoff = backoff or Backoff()
    index = 0
    # The HTTP timeout covers the wait, Consul's wait/16 jitter and a margin for a slow network.
    timeout = wait_seconds + wait_seconds / 16 + 5.0
    while True:
        query = dict(params)
        if index > 0:
            query["index"] = str(index)
            query["wait"] = go_duration(wait_seconds)
        try:
            response = await http.request("GET", path, params=query, timeout=timeout, allow=allow)
        except (ConsulUnavailable, ConsulRefused) as exc:
            on_error(str(exc))
            index = 0  # the state may have moved on (or been reset) meanwhile: read afresh
            await anyio.sleep(backoff.next())
            continue
        if response.filtered:
            await on_result(response)
            index = 0
            await anyio.sleep(backoff.next())
            continue
        backoff.reset()
        index = next_index(index, response.index)
        await on_result(response)
