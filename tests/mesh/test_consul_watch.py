"""Blocking queries follow Consul's index rules: no spinning on index 0, a reset when the index goes backwards."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import pytest

from mesh.consul import ConsulEndpoint, ConsulHttp
from mesh.consul.http import ConsulResponse
from mesh.consul.watch import Backoff, next_index, watch_blocking
from tests.support.consul_double import ConsulDouble

pytestmark = pytest.mark.anyio
PATH = "/v1/health/service/mcp-demo"


@pytest.mark.parametrize(
    ("sent", "returned", "expected"),
    [(0, 15, 15), (15, 15, 15), (15, 20, 20), (20, 7, 1), (0, 0, 1), (5, None, 1), (0, -3, 1)],
)
def test_the_next_index_follows_the_documented_rules(sent: int, returned: int | None, expected: int) -> None:
    assert next_index(sent, returned) == expected


def test_back_off_grows_with_jitter_up_to_its_cap_and_resets() -> None:
    backoff = Backoff(base_seconds=0.1, cap_seconds=1.0)
    delays = [backoff.next() for _ in range(8)]
    assert 0.05 <= delays[0] <= 0.1
    assert all(0.5 <= d <= 1.0 for d in delays[4:])
    assert len({round(d, 6) for d in delays[4:]}) > 1  # jittered, not a fixed beat
    backoff.reset()
    assert backoff.next() <= 0.1


@asynccontextmanager
async def watching(double: ConsulDouble, wait: float) -> AsyncIterator[list[ConsulResponse]]:
    seen: list[ConsulResponse] = []
    errors: list[str] = []

    async def on_result(response: ConsulResponse) -> None:
        seen.append(response)

    http = ConsulHttp(ConsulEndpoint(base_url=double.url))
    async with anyio.create_task_group() as tg:
        await double.start(tg)
        tg.start_soon(
            lambda: watch_blocking(
                http, PATH, {"passing": "1"}, wait_seconds=wait, on_result=on_result, on_error=errors.append
            )
        )
        try:
            yield seen
        finally:
            tg.cancel_scope.cancel()
    await http.aclose()
    await double.stop()


async def test_a_watch_blocks_instead_of_spinning_when_consul_reports_index_zero() -> None:
    double = ConsulDouble()
    double.report_index(0)  # e.g. a fresh cluster: index=0 would return at once, every time
    wait = 0.3
    async with watching(double, wait):
        started = time.monotonic()
        requests = await double.wait_for_requests(PATH, 5)
        elapsed = time.monotonic() - started
    # the first read is immediate; each of the next three must have blocked for the whole wait
    assert elapsed >= 2.7 * wait, f"{len(requests)} requests in {elapsed:.3f}s: the watch spins"
    assert [r.query.get("index") for r in requests[1:5]] == ["1", "1", "1", "1"]


async def test_a_watch_that_sees_the_index_go_backwards_reads_afresh_and_misses_nothing() -> None:
    double = ConsulDouble()
    for n in range(40):  # move the index well past where it will be reset to
        double.put_key(f"noise/{n}", b"x")
    double.add_service("mcp-demo", "demo-a", 9001)
    high = double.index
    async with watching(double, wait=0.5) as seen:
        await double.wait_for_requests(PATH, 2)  # the first read, then a blocking one at the high index
        assert seen[-1].index == high
        double.reset_index(5)  # a snapshot restore: the index drops below what the watch holds
        double.add_service("mcp-demo", "demo-b", 9002)  # written at index 6, far below `high`
        with anyio.fail_after(3):
            while not any(len(r.json()) == 2 for r in seen):
                await double.wait_for_requests(PATH, len(double.seen(PATH)) + 1)
    sent = [r.query.get("index") for r in double.seen(PATH)]
    assert sent[0] is None and sent[1] == str(high)
    assert "1" in sent[2:]  # the fresh read after the index went backwards


async def test_a_watch_answers_again_as_soon_as_the_index_moves_not_when_the_wait_ends() -> None:
    double = ConsulDouble()
    async with watching(double, wait=30.0) as seen:
        await double.wait_for_requests(PATH, 2)
        started = time.monotonic()
        double.add_service("mcp-demo", "demo-a", 9001)
        await double.wait_for_requests(PATH, 3)
        elapsed = time.monotonic() - started
    assert elapsed < 1.0
    assert [e["Service"]["ID"] for e in seen[-1].json()] == ["demo-a"]


async def test_errors_back_off_instead_of_hammering_an_agent_that_is_down() -> None:
    double = ConsulDouble()
    errors: list[str] = []

    async def on_result(_response: ConsulResponse) -> None:
        pass

    http = ConsulHttp(ConsulEndpoint(base_url=double.url))  # nothing listens yet
    backoff = Backoff(base_seconds=0.05, cap_seconds=0.2)
    with anyio.move_on_after(0.6):
        await watch_blocking(
            http, PATH, {}, wait_seconds=1.0, on_result=on_result, on_error=errors.append, backoff=backoff
        )
    await http.aclose()
    assert 2 <= len(errors) <= 12
    assert "cannot reach Consul" in errors[0]
