"""A real network fault: one of three filesystem hosts loses its link under load, then gets it back.

Three ``mcp-suite serve filesystem`` processes run each in a network namespace of its own (a host
with one veth cable to the root namespace); the gateway runs in the root namespace with a static
registry of the three. While several read calls are in flight all the time, the test pulls one
host's cable (``ip link set ... down``: its packets vanish, nothing answers, no reset comes back)
and later plugs it in again. Everything is observed by polling with deadlines.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import httpx
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from gateway.call.catalog import ALL
from gateway.call.service import Gateway
from gateway.door.mcp_endpoint import Endpoint
from gateway.settings import BreakerPolicy, GatewaySettings, Policy
from gateway.upstream.instances import Member
from mesh.config import StaticInstance
from mesh.registry import StaticRegistry
from mesh.security.upstream_auth import upstream_headers
from tests.support.netns import Host, hosts, require_netns

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[2]
SECRET = "netns-test-upstream-secret-0123456789"
PORT = 8501
WORKERS = 6
MOVES = 6
CALL_TIMEOUT_SECONDS = 2.0
ATTEMPT_TIMEOUT_SECONDS = 0.5
TOOL = "filesystem_read_text_file"

SETTINGS = GatewaySettings(
    refresh_interval_seconds=0.5,
    unhealthy_after_failures=2,
    connect_timeout_seconds=1.0,
    policy=Policy(
        timeout_seconds=CALL_TIMEOUT_SECONDS,
        retries=1,
        attempt_timeout_seconds=ATTEMPT_TIMEOUT_SECONDS,
        breaker=BreakerPolicy(failure_threshold=2, cooldown_seconds=1.0, window=20, min_calls=10),
    ),
)


@dataclass
class Outcome:
    started: float
    ended: float
    error: str | None


@dataclass
class Load:
    """Read calls kept in flight by ``WORKERS`` clients until ``stop`` is set."""

    gateway: Gateway
    outcomes: list[Outcome] = field(default_factory=list)
    catalog_gaps: int = 0
    stop: anyio.Event = field(default_factory=anyio.Event)
    in_flight: int = 0
    resumed: anyio.Event | None = None  # while set to an unset event, workers wait before their next read

    def ok_since(self, moment: float) -> int:
        return sum(1 for o in self.outcomes if o.error is None and o.started >= moment)

    async def pause(self) -> None:
        """Hold the workers before their next read and wait until no read is in flight."""
        self.resumed = anyio.Event()
        await _until(lambda: self.in_flight == 0, timeout=10, what="the reads in flight to finish")

    def resume(self) -> None:
        if self.resumed is not None:
            self.resumed.set()
        self.resumed = None


@pytest.fixture
def three_hosts() -> Iterator[list[Host]]:
    require_netns()
    with hosts(3) as made:
        yield made


def _serve(host: Host, root: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MCP_SUITE_AUTH__UPSTREAM_SECRET": SECRET}
    env.pop("MCP_SUITE_CONFIG", None)
    argv = [sys.executable, "-m", "suite.cli", "serve", "filesystem", f"{root}:rw", "--transport", "http"]
    argv += ["--host", host.address, "--port", str(PORT)]
    return subprocess.Popen(host.command(argv), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def _until(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout}s: {what}"
        await anyio.sleep(0.05)


async def _ready(url: str) -> bool:
    try:
        async with httpx.AsyncClient(trust_env=False, timeout=1.0) as http:
            return (await http.get(url)).status_code == 200
    except httpx.HTTPError:
        return False


async def _worker(gateway: Gateway, load: Load, index: int) -> None:
    async with Client(Endpoint(gateway, ALL).server) as client:
        while not load.stop.is_set():
            if load.resumed is not None:
                await load.resumed.wait()
            if TOOL not in gateway.catalog.tools:
                load.catalog_gaps += 1
            started = time.monotonic()
            error: str | None = None
            load.in_flight += 1
            try:
                result = await client.call_tool(TOOL, {"path": f"note-{index % 3}.txt"})
                if result.is_error:
                    error = f"tool error: {result.content}"
            except MCPError as exc:
                error = f"{exc.code}: {exc.message}"
            finally:
                load.in_flight -= 1
            load.outcomes.append(Outcome(started, time.monotonic(), error))


def _opens(member: Member) -> list[float]:
    """When ``member``'s breaker opens from now on (monotonic times)."""
    seen: list[float] = []
    member.breaker.on_state_change(lambda _old, new: seen.append(time.monotonic()) if new == "open" else None)
    return seen


async def _moves(gateway: Gateway, count: int, outcomes: list[str | None]) -> None:
    """``count`` renames at once (``move_file``: neither read-only nor idempotent, never replayed)."""

    async def one(client: Client, index: int) -> None:
        try:
            result = await client.call_tool(
                "filesystem_move_file", {"source": f"m-{index}", "destination": f"n-{index}"}
            )
            outcomes.append(f"tool error: {result.content}" if result.is_error else None)
        except MCPError as exc:
            outcomes.append(f"{exc.code}: {exc.message}")

    async with Client(Endpoint(gateway, ALL).server) as client, anyio.create_task_group() as tg:
        for index in range(count):
            tg.start_soon(one, client, index)


async def _cut(
    host: Host, member: Member, load: Load, moves: list[str | None] | None = None
) -> tuple[float, list[float]]:
    """Pull ``host``'s cable; wait until its instance is unhealthy, its breaker opened and reads go on.

    With ``moves``, the reads pause first, so that the gateway holds idle keep-alive connections to
    every host; the ``MOVES`` renames sent just after the cut then find such a connection to the
    cut host and are written to it, as a call in flight when the link went would be.
    """
    opened = _opens(member)
    if moves is not None:
        await load.pause()
    cut_at = time.monotonic()
    host.cut()
    if moves is not None:
        await _moves(load.gateway, MOVES, moves)
        load.resume()
    await _until(lambda: not member.healthy, timeout=15, what=f"{host.address} marked unhealthy")
    await _until(lambda: bool(opened), timeout=15, what=f"{host.address}'s breaker opened")
    settled = time.monotonic()
    await _until(lambda: load.ok_since(settled) >= 30, timeout=15, what=f"30 reads while {host.address} is cut")
    return cut_at, opened


async def _returns(member: Member) -> None:
    """After the cable is back: the instance is healthy, its breaker closed, and it takes calls again."""
    await _until(lambda: member.healthy, timeout=20, what=f"{member.instance_id} healthy again")
    await _until(lambda: member.breaker.state == "closed", timeout=20, what=f"{member.instance_id}'s breaker closed")
    back = member.calls
    await _until(lambda: member.calls >= back + 5, timeout=20, what=f"calls reach {member.instance_id} again")


async def test_cutting_two_of_three_hosts_fails_no_read_replays_no_rename_and_both_return(
    three_hosts: list[Host], tmp_path: Path
) -> None:
    for i in range(3):
        (tmp_path / f"note-{i}.txt").write_text(f"note {i}\n" * 20)
    processes = [_serve(host, tmp_path) for host in three_hosts]
    for i in range(MOVES):
        (tmp_path / f"m-{i}").write_text("to be moved\n")
    moves: list[str | None] = []
    cuts: list[tuple[float, list[float]]] = []  # when a cable was pulled, when that host's breaker opened
    try:
        urls = [f"http://{host.address}:{PORT}" for host in three_hosts]
        deadline = time.monotonic() + 60  # three interpreters starting on a shared 2-core machine
        for url in urls:
            while not await _ready(f"{url}/health"):
                assert time.monotonic() < deadline, f"{url} never became ready"
                assert all(p.poll() is None for p in processes), "a filesystem server exited"
                await anyio.sleep(0.1)
        registry = StaticRegistry({"filesystem": tuple(StaticInstance(url=f"{u}/mcp") for u in urls)})
        gateway = Gateway(SETTINGS, registry)
        gateway.upstream_headers = upstream_headers(SECRET)
        async with gateway.running():
            pool = gateway.pools["filesystem"]
            await _until(lambda: len(pool.serving()) == 3, timeout=10, what="all three instances serve")
            members = [
                next(m for m in pool.members.values() if h.address in (m.instance.url or "")) for h in three_hosts
            ]
            load = Load(gateway)
            async with anyio.create_task_group() as tg:
                for index in range(WORKERS):
                    tg.start_soon(_worker, gateway, load, index)
                await _until(lambda: load.ok_since(0) >= 30, timeout=15, what="30 reads before the cut")
                assert all(m.calls > 0 for m in members)

                cuts.append(await _cut(three_hosts[2], members[2], load, moves))
                cuts.append(await _cut(three_hosts[1], members[1], load))
                assert len(pool.serving()) == 1

                for host in (three_hosts[2], three_hosts[1]):
                    host.restore()
                for member in members[1:]:
                    await _returns(member)
                load.stop.set()
    finally:
        for process in processes:
            process.kill()
        for process in processes:
            process.wait(timeout=10)

    # A pulled cable sends no reset: a read already written to a cut host waits
    # `attempt_timeout_seconds` for its answer, then goes to another host within the call's deadline
    # (docs/gateway.md, "Retries only where safe"), so no read fails.
    failures = [o for o in load.outcomes if o.error is not None]
    first = cuts[0][0]
    marks = ", ".join(f"cut {c - first:+.2f}s opened {o[0] - first:+.2f}s" for c, o in cuts)
    report = [marks, *(f"{o.started - first:+.2f}s..{o.ended - first:+.2f}s: {o.error}" for o in failures)]
    assert failures == [], report
    assert len(load.outcomes) >= 150
    assert load.catalog_gaps == 0, "the catalog lost the server while a replica served"
    # A rename sent as the first cable went either ran on a live host (also after a connection to the
    # cut host could not be made: it reached nobody) or, written to the cut host, was refused as not
    # retried: it may have run there, so the gateway never replays it on another.
    assert len(moves) == MOVES
    assert all(m is None or m.startswith("-32001: not_retried: filesystem") for m in moves), moves
    assert any(m is not None for m in moves), "no rename was written to the cut host: not-retried went untested"
    moved = sorted(i for i in range(MOVES) if (tmp_path / f"n-{i}").exists())
    assert len(moved) >= moves.count(None), (moved, moves)
    assert all(not (tmp_path / f"m-{i}").exists() for i in moved)
