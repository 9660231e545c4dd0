"""The server's added p50, measured one way by every bench that has a goal on it.

A :class:`LeanCaller` sends raw stateless 2026-07-28 ``tools/call`` requests on the gateway's HTTP/1.1
client (:class:`~gateway.upstream.http1.Http1Pool`, about 0.1 ms of CPU a call) and decodes each answer:
the SDK's client re-validates every result against the output schema, a client cost of several ms that
would hide what the server adds on two shared cores. Such a request qualifies for the server's fast path
(:mod:`servers.runtime.fastpath`).

:func:`measure_added` runs three paced series of the same calls: through the server, the same work
with the engine's or provider's API in this process (the direct side), and a no-op tool of
:mod:`suite.bench.noop_server` (the floor: what HTTP, JSON-RPC and the result's shaping cost with no
work at all), and the pacer alone (a call that does nothing in this process: how late the event loop
wakes for a due call, which every series pays). Two rounds, interleaved (server, direct, floor, pacer;
then pacer, floor, direct, server), so load falls on every side alike. The added p50 of a round is its
server p50 less its direct p50; the floor is printed beside it, as its p50 less the pacer's.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from gateway.upstream.http1 import Http1Pool
from suite.bench.gateway import HEADERS, LoadResult, _call_body
from suite.bench.search_cpu import process_cpu
from suite.bench.vectorstore_load import Call, paced

Side = Callable[[int], Awaitable[Any]]
"""Call ``i`` of a side (negative for the untimed warm-up calls): raises when it failed."""


class LeanCaller:
    """Raw ``tools/call`` requests to one MCP URL over a pool of HTTP/1.1 connections."""

    def __init__(self, url: str, connections: int, read_timeout: float = 30.0) -> None:
        self.url = url
        self.http = Http1Pool(max_connections=connections, read_timeout=read_timeout)
        self._ids = itertools.count(1)
        self._headers: dict[str, dict[str, str]] = {}

    async def call(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """The call's result.

        Raises:
            RuntimeError: the answer is not 200, a JSON-RPC error, or an error result.
        """
        headers = self._headers.get(tool)
        if headers is None:
            headers = self._headers[tool] = {**HEADERS, "mcp-name": tool}
        body = json.dumps(_call_body(tool, arguments, next(self._ids))).encode()
        async with self.http.post(self.url, body, headers) as response:
            answer = json.loads(await response.read())
        if response.status != 200 or "error" in answer or answer["result"].get("isError"):
            raise RuntimeError(f"{tool} failed during the bench: {str(answer)[:500]}")
        result: dict[str, Any] = answer["result"]
        return result

    async def aclose(self) -> None:
        await self.http.aclose()


def counted(side: Side) -> Call:
    """``side`` as a call of :func:`~suite.bench.vectorstore_load.paced`: True when it raised."""

    async def call(index: int) -> bool:
        try:
            await side(index)
        except Exception:
            return True
        return False

    return call


@dataclass
class Added:
    """Two interleaved rounds of the server, direct and floor series."""

    label: str
    server: list[LoadResult] = field(default_factory=list)
    direct: list[LoadResult] = field(default_factory=list)
    floor: list[LoadResult] = field(default_factory=list)
    pacer: list[LoadResult] = field(default_factory=list)
    server_cpu_ms: list[float] = field(default_factory=list)
    """The server process's CPU per call, per round (when its pid was given)."""
    direct_cpu_ms: list[float] = field(default_factory=list)
    """This process's CPU per call of the direct rounds (the client's pacing included)."""

    @property
    def added_p50(self) -> list[float]:
        return [s.p50_ms - d.p50_ms for s, d in zip(self.server, self.direct, strict=True)]

    @property
    def errors(self) -> int:
        return sum(r.errors for r in self.server + self.direct + self.floor)

    def lines(self, goal_ms: float) -> list[str]:
        """The series, then the added p50 per round beside the floor, with the verdict."""
        out = [
            f"  {r.label:<28} n={r.calls} {r.rps:6.1f}/s c={r.concurrency}: p50 {r.p50_ms:6.2f} ms "
            f"p99 {r.p99_ms:7.2f} ms errors {r.errors}"
            for r in self.server + self.direct + self.floor + self.pacer
        ]
        added = self.added_p50
        out.append(
            f"  {self.label:<28} added p50 {ms_spread(added)} ms per round: {', '.join(f'{a:.2f}' for a in added)}; "
            f"no-op floor p50 over the pacer's "
            f"{', '.join(f'{f.p50_ms - q.p50_ms:.2f}' for f, q in zip(self.floor, self.pacer, strict=True))} ms "
            f"(goal < {goal_ms}): {'met' if self.met(goal_ms) else 'MISSED'}"
        )
        if self.server_cpu_ms:
            out.append(
                f"  {self.label:<28} cpu per call ms: server process {', '.join(f'{c:.2f}' for c in self.server_cpu_ms)};"
                f" direct side {', '.join(f'{c:.2f}' for c in self.direct_cpu_ms)}"
            )
        return out

    def met(self, goal_ms: float) -> bool:
        return bool(self.added_p50) and max(self.added_p50) < goal_ms and self.errors == 0


async def measure_added(
    label: str,
    server: Side,
    direct: Side,
    floor: Side,
    *,
    calls: int,
    rate: float,
    in_flight: int,
    server_pid: int | None = None,
) -> Added:
    """Two interleaved rounds of ``calls`` paced calls of each side (see the module's text)."""
    figures = Added(label)

    async def idle(_index: int) -> bool:
        return False

    sides = {"server": counted(server), "direct": counted(direct), "floor": counted(floor), "pacer": idle}
    for order in (("server", "direct", "floor", "pacer"), ("pacer", "floor", "direct", "server")):
        for side in order:
            cpu = process_cpu(server_pid) if side == "server" and server_pid is not None else time.process_time()
            result = await paced(f"{label} {side}", sides[side], calls, rate, in_flight)
            if side == "server":
                figures.server.append(result)
                if server_pid is not None:
                    figures.server_cpu_ms.append((process_cpu(server_pid) - cpu) * 1e3 / calls)
            elif side == "direct":
                figures.direct.append(result)
                figures.direct_cpu_ms.append((time.process_time() - cpu) * 1e3 / calls)
            elif side == "floor":
                figures.floor.append(result)
            else:
                figures.pacer.append(result)
    return figures


def ms_spread(values: list[float]) -> str:
    """``median (min-max)`` in ms with two decimals."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    median = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    return f"{median:.2f} ({ordered[0]:.2f}-{ordered[-1]:.2f})"
