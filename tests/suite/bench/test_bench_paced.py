"""The bench's paced load generator (``paced_load``) against a raw asyncio HTTP/1.1 server started here.

Timing bounds are generous: they tell a paced run from a closed loop (thousands of calls a second
here) and a scheduled-time clock from a send-time one (a 200 ms stall against sub-millisecond answers),
not the machine's speed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest

from suite.bench.gateway import _load, paced_line, paced_load, warmup_calls

pytestmark = pytest.mark.anyio

OK = b'{"jsonrpc":"2.0","id":1,"result":{}}'
ARGUMENTS: dict[str, object] = {"path": "x"}

# How the server answers its request number ``n`` (counted from 0 over the whole run, warm-up included).
Answer = Callable[[int], Awaitable[tuple[int, bytes]]]


@dataclass
class Served:
    url: str
    requests: int = 0
    in_flight: int = 0
    most_in_flight: int = 0


async def _ok(_n: int) -> tuple[int, bytes]:
    return 200, OK


@asynccontextmanager
async def _server(answer: Answer = _ok) -> AsyncIterator[Served]:
    """A keep-alive HTTP/1.1 server that counts requests and the most it held at once."""
    served = Served("")
    handlers: set[asyncio.Task[None]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return  # the client closed its connection
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
                await reader.readexactly(length)
                n = served.requests
                served.requests += 1
                served.in_flight += 1
                served.most_in_flight = max(served.most_in_flight, served.in_flight)
                try:
                    status, body = await answer(n)
                finally:
                    served.in_flight -= 1
                reason = b"OK" if status == 200 else b"Error"
                writer.write(
                    b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
                    % (status, reason, len(body), body)
                )
                await writer.drain()
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    served.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/mcp"
    try:
        yield served
    finally:
        server.close()
        # The load generator closes its connections before it returns: every handler sees the end of its stream.
        await asyncio.wait_for(asyncio.gather(*handlers), 5)


async def test_the_achieved_rate_follows_the_offered_rate_and_the_run_lasts_calls_over_rate() -> None:
    async with _server() as served:
        result = await paced_load("paced", served.url, "t", ARGUMENTS, 4, 200, 200.0)
    assert (result.calls, result.errors) == (200, 0)
    assert served.requests == 200 + warmup_calls(200, 4)
    # Call 199 is due at 0.995 s: no run can be shorter, and one answered in ~1 ms is not much longer.
    assert 0.99 <= result.seconds < 1.5
    assert 130 < result.rps <= 201.1  # a closed loop against this server does thousands a second
    assert result.p50_ms < 50
    assert "offered 200/s" in paced_line(result, 200.0) and "achieved" in paced_line(result, 200.0)


async def test_latency_counts_from_the_scheduled_time_so_calls_due_behind_a_stall_carry_it() -> None:
    stalled_request = warmup_calls(40, 1) + 5  # the sixth timed call

    async def stall_once(n: int) -> tuple[int, bytes]:
        if n == stalled_request:
            await asyncio.sleep(0.2)  # the server holds this one answer; the test does not wait on it
        return 200, OK

    async with _server(stall_once) as served:
        paced = await paced_load("paced", served.url, "t", ARGUMENTS, 1, 40, 100.0)
        served.requests = 0
        closed = await _load("closed", served.url, "t", ARGUMENTS, 1, 40)
    # Paced at 10 ms intervals, one in flight: the ~20 calls due during the 200 ms stall each waited for
    # it from their own due time (190, 180, ... ms), so about ten of them are over 100 ms.
    assert max(paced.latencies_ms) >= 200
    assert sum(latency > 100 for latency in paced.latencies_ms) >= 5
    assert paced.calls == 40  # the backlog was made up, not dropped
    # The closed loop (a send-time clock, the next call only after the last answer) sees one slow call.
    assert max(closed.latencies_ms) >= 200
    assert sum(latency > 100 for latency in closed.latencies_ms) == 1


async def test_at_most_concurrency_calls_are_in_flight_and_the_wait_for_a_slot_counts() -> None:
    async def slow(_n: int) -> tuple[int, bytes]:
        await asyncio.sleep(0.02)
        return 200, OK

    async with _server(slow) as served:
        started = time.perf_counter()
        result = await paced_load("paced", served.url, "t", ARGUMENTS, 4, 40, 1000.0)
        elapsed = time.perf_counter() - started
    assert served.most_in_flight == 4
    # 40 calls due within 40 ms, but 4 slots of 20 ms each serve 200 a second: the last waits ~180 ms.
    assert result.rps <= 4 / 0.02 * 1.05
    assert max(result.latencies_ms) >= 150
    assert result.p50_ms >= 60
    assert elapsed < 3


async def test_error_statuses_error_bodies_and_tool_errors_are_counted() -> None:
    async def mixed(n: int) -> tuple[int, bytes]:
        return [
            (200, OK),
            (500, b'{"detail":"boom"}'),
            (200, b'{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"bad"}}'),
            (200, b'{"jsonrpc":"2.0","id":1,"result":{"content":[],"isError":true}}'),
        ][n % 4]

    assert warmup_calls(40, 1) % 4 == 0  # so the timed calls start again at the "ok" answer
    async with _server(mixed) as served:
        result = await paced_load("paced", served.url, "t", ARGUMENTS, 1, 40, 400.0)
    assert (result.calls, result.errors) == (40, 30)
    assert paced_line(result, 400.0).endswith("errors 30")


async def test_a_rate_that_is_not_positive_is_refused() -> None:
    with pytest.raises(ValueError, match="rate"):
        await paced_load("paced", "http://127.0.0.1:9/mcp", "t", ARGUMENTS, 1, 1, 0.0)
