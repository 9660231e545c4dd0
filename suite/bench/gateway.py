"""Bench the gateway against a direct call, over streamable HTTP, in one run.

Starts a real filesystem server (``mcp-suite serve filesystem --transport http``) and a gateway in
front of it (``mcp-suite gateway``), both as child processes, then drives the same cheap tool call
(``get_file_info`` of a small file) straight at the server and through the gateway, at concurrency 1
and 16. The load generator speaks the stateless 2026-07-28 wire with the lean pooled client of
``gateway/upstream/http1.py``, so it costs little next to what it measures. Then it starts 20 upstream instances behind one gateway and
reads the gateway's resident memory from /proc. The load generators live here for the other benches
too: :func:`_load`, a closed loop, and :func:`paced_load`, arrivals at an offered rate.

Targets: the gateway adds at most 1.5 ms at p50 at concurrency 1; it keeps at least 50 % of the
direct throughput at concurrency 16; its RSS stays under 150 MB with 20 upstream instances.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import httpx
import yaml

from gateway.upstream.http1 import Http1Pool
from mesh import runtime
from suite.bench.filesystem import percentile
from suite.bench.processes import bench_env, cli, free_port, stop_children, wait_healthy

HEADERS = {
    "accept": "application/json, text/event-stream",
    "content-type": "application/json",
    "mcp-protocol-version": "2026-07-28",
    "mcp-method": "tools/call",
}
META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "mcp-suite-bench", "version": "0"},
    "io.modelcontextprotocol/clientCapabilities": {},
}


@dataclass(frozen=True)
class LoadResult:
    label: str
    concurrency: int
    calls: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    latencies_ms: tuple[float, ...] = field(default=(), repr=False, compare=False)

    @property
    def rps(self) -> float:
        return self.calls / self.seconds if self.seconds else 0.0

    def line(self) -> str:
        return (
            f"{self.label:<8} c={self.concurrency:<3} n={self.calls:<5} {self.rps:8.1f} req/s  "
            f"p50 {self.p50_ms:6.3f} ms  p99 {self.p99_ms:7.3f} ms  errors {self.errors}"
        )


@contextmanager
def _child(argv: Sequence[str], env: dict[str, str], health: str, what: str) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_healthy(health, what)
        yield process
    finally:
        stop_children([process], grace_seconds=15)


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def warmup_calls(calls: int, concurrency: int) -> int:
    """How many untimed calls :func:`_load` makes first, at the measured concurrency."""
    return min(calls, max(50, 8 * concurrency))


def _call_body(tool: str, arguments: dict[str, object], request_id: int) -> dict[str, object]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": tool, "arguments": arguments, "_meta": META},
    }


async def _exchange(http: Http1Pool, url: str, body: dict[str, object], headers: Mapping[str, str]) -> bool:
    """Send one ``tools/call`` and read its answer whole; ``True`` when it failed (status, error, isError)."""
    async with http.post(url, json.dumps(body).encode(), headers) as response:
        text = await response.read()
    return response.status != 200 or b'"isError":true' in text or b'"error"' in text


async def _closed_loop(concurrency: int, count: int, one: Callable[[], Awaitable[None]]) -> None:
    """``count`` calls of ``one`` by ``concurrency`` workers, each starting its next as its last returns."""
    remaining = count

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await one()

    async with anyio.create_task_group() as tg:
        for _ in range(concurrency):
            tg.start_soon(worker)


def _result(label: str, concurrency: int, latencies: list[float], seconds: float, errors: int) -> LoadResult:
    return LoadResult(
        label,
        concurrency,
        len(latencies),
        seconds,
        percentile(latencies, 0.5) * 1000,
        percentile(latencies, 0.99) * 1000,
        errors,
        tuple(latency * 1000 for latency in latencies),
    )


@dataclass
class _Caller:
    """Sends ``tools/call`` requests for one tool over a pool of HTTP connections, each with the next id."""

    http: Http1Pool
    url: str
    tool: str
    arguments: dict[str, object]
    headers: Mapping[str, str]
    _ids: Iterator[int] = field(default_factory=lambda: iter(range(1, 10**9)))

    def body(self) -> dict[str, object]:
        return _call_body(self.tool, self.arguments, next(self._ids))

    async def send(self, body: dict[str, object]) -> bool:
        """Send ``body`` and read its answer whole; ``True`` when the call failed."""
        return await _exchange(self.http, self.url, body, self.headers)


@asynccontextmanager
async def _warmed_caller(
    url: str,
    tool: str,
    arguments: dict[str, object],
    concurrency: int,
    calls: int,
    extra_headers: Mapping[str, str] | None,
) -> AsyncIterator[_Caller]:
    """A :class:`_Caller` over ``concurrency`` connections, warmed up with :func:`warmup_calls` closed-loop calls
    at that concurrency: every HTTP connection open, the server's pools grown to it."""
    headers = {**HEADERS, "mcp-name": tool, **(extra_headers or {})}
    # The gateway's own lean HTTP/1.1 client (~0.1 ms of CPU a call; httpx took 1.5 ms): on two cores the
    # load generator shares the CPU with what it measures, so it must cost little.
    http = Http1Pool(max_connections=concurrency)
    try:
        caller = _Caller(http, url, tool, arguments, headers)

        async def warm() -> None:
            await caller.send(caller.body())

        await _closed_loop(concurrency, warmup_calls(calls, concurrency), warm)
        yield caller
    finally:
        await http.aclose()


async def _load(
    label: str,
    url: str,
    tool: str,
    arguments: dict[str, object],
    concurrency: int,
    calls: int,
    extra_headers: Mapping[str, str] | None = None,
) -> LoadResult:
    """A closed loop: ``concurrency`` callers, each sending its next call as soon as its last is answered."""
    latencies: list[float] = []
    errors = 0
    async with _warmed_caller(url, tool, arguments, concurrency, calls, extra_headers) as caller:

        async def one() -> None:
            nonlocal errors
            body = caller.body()
            started = time.perf_counter()
            failed = await caller.send(body)
            latencies.append(time.perf_counter() - started)
            if failed:
                errors += 1

        started = time.perf_counter()
        await _closed_loop(concurrency, calls, one)
        seconds = time.perf_counter() - started
    return _result(label, concurrency, latencies, seconds, errors)


async def paced_load(
    label: str,
    url: str,
    tool: str,
    arguments: dict[str, object],
    concurrency: int,
    calls: int,
    rate: float,
    extra_headers: Mapping[str, str] | None = None,
) -> LoadResult:
    """An open loop: call ``i`` is due at ``t0 + i / rate``, with at most ``concurrency`` calls in flight.

    Each latency runs from the call's scheduled time to its answer, not from when it was sent: a call
    that waited for one of the ``concurrency`` slots, or behind a stalled server, counts that wait
    (the coordinated-omission correction of wrk2 and HdrHistogram). The generator's own timer
    lateness (asyncio and uvloop timers wake to the millisecond) counts too, so the figures are an
    upper bound. ``seconds`` is the real time from ``t0`` to the last answer, so ``rps`` is the
    achieved rate. Warm-up is :func:`_load`'s: ``warmup_calls`` closed-loop calls at ``concurrency``.
    """
    if rate <= 0:
        raise ValueError(f"rate must be positive, not {rate}")
    latencies: list[float] = []
    errors = 0
    async with _warmed_caller(url, tool, arguments, concurrency, calls, extra_headers) as caller:
        # ``concurrency`` workers take the calls in order, each when it is free: a call due while every
        # worker is busy goes out as soon as one frees (its wait counted from its due time), and the
        # ones due behind it follow at once until the schedule is caught up.
        next_call = 0
        t0 = time.perf_counter()

        async def worker() -> None:
            nonlocal next_call, errors
            while next_call < calls:
                due = t0 + next_call / rate
                next_call += 1
                wait = due - time.perf_counter()
                if wait > 0:
                    await anyio.sleep(wait)
                failed = await caller.send(caller.body())
                latencies.append(time.perf_counter() - due)
                if failed:
                    errors += 1

        async with anyio.create_task_group() as tg:
            for _ in range(concurrency):
                tg.start_soon(worker)
        seconds = time.perf_counter() - t0
    return _result(label, concurrency, latencies, seconds, errors)


def paced_line(result: LoadResult, rate: float) -> str:
    """The figures of a :func:`paced_load` run: offered and achieved rates, p50, p99, errors."""
    return (
        f"{result.label:<8} c={result.concurrency}  offered {rate:.0f}/s  achieved {result.rps:.1f}/s  "
        f"p50 {result.p50_ms:6.3f} ms  p99 {result.p99_ms:7.3f} ms  errors {result.errors}"
    )


def bench_gateway(iterations: int) -> bool:
    """Print direct-vs-gateway figures and the 20-instance RSS; True when every target is met."""
    calls = max(200, iterations * 4)
    with tempfile.TemporaryDirectory(prefix="mcp-suite-bench-") as tmp:
        root = Path(tmp) / "root"
        root.mkdir()
        (root / "small.txt").write_text("a small file\n")
        env = bench_env(str(Path(tmp) / "data"))
        server_port, gateway_port = free_port(), free_port()
        server_url = f"http://127.0.0.1:{server_port}/mcp"
        config = Path(tmp) / "gateway.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "gateway": {"port": gateway_port, "policy": {"max_concurrent": 256, "queue_limit": 1024}},
                    "registry": {"static": {"filesystem": [{"url": server_url}]}},
                }
            )
        )
        server_argv = cli("serve", "filesystem", str(root), "--transport", "http", "--port", str(server_port))
        gateway_argv = cli("gateway", "--config", str(config))
        arguments: dict[str, object] = {"path": str(root / "small.txt")}
        with (
            _child(server_argv, env, f"http://127.0.0.1:{server_port}/health", "the filesystem server"),
            _child(gateway_argv, env, f"http://127.0.0.1:{gateway_port}/ready", "the gateway"),
        ):
            _wait_tools(f"http://127.0.0.1:{gateway_port}/mcp/v1/tools/list", "filesystem_get_file_info")
            results: dict[tuple[str, int], LoadResult] = {}
            for concurrency in (1, 16):
                for label, url, tool in (
                    ("direct", server_url, "get_file_info"),
                    ("gateway", f"http://127.0.0.1:{gateway_port}/mcp", "filesystem_get_file_info"),
                ):
                    result = runtime.run("auto", _load, label, url, tool, arguments, concurrency, calls)
                    results[(label, concurrency)] = result
                    print(result.line())
        added_p50 = results[("gateway", 1)].p50_ms - results[("direct", 1)].p50_ms
        kept = results[("gateway", 16)].rps / max(results[("direct", 16)].rps, 1e-9)
        errors = sum(r.errors for r in results.values())
        print(
            f"gateway adds {added_p50:.3f} ms at p50, c=1 (target <= 1.5 ms): {'met' if added_p50 <= 1.5 else 'MISSED'}"
        )
        print(
            f"gateway keeps {kept:.0%} of direct throughput at c=16 (target >= 50%): {'met' if kept >= 0.5 else 'MISSED'}"
        )
        rss = _rss_with_instances(tmp, env, root, 20)
        print(
            f"gateway RSS with 20 upstream instances: {rss:.1f} MB (target < 150 MB): {'met' if rss < 150 else 'MISSED'}"
        )
        return added_p50 <= 1.5 and kept >= 0.5 and rss < 150 and errors == 0


def _wait_tools(url: str, name: str, timeout: float = 30.0, headers: Mapping[str, str] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            tools = httpx.post(url, json={}, headers=headers, timeout=2.0).json().get("tools", [])
            if any(tool["name"] == name for tool in tools):
                return
        except (httpx.TransportError, ValueError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the gateway never listed {name}")


class InstancesMissingError(RuntimeError):
    """Fewer upstream instances serve behind the gateway than the bench started: its figure would measure less."""


def _serving(url: str) -> int:
    """How many instances the gateway's ``/v1/instances`` at ``url`` reports serving; 0 when it does not answer."""
    try:
        status = httpx.get(url, timeout=2).json()
    except (httpx.TransportError, ValueError):
        return 0
    return sum(bool(i["serving"]) for s in status["servers"] for i in s["instances"])


def _wait_serving(
    url: str, count: int, timeout: float, poll: float = 0.2, serving: Callable[[str], int] = _serving
) -> None:
    """Return once ``count`` instances serve behind the gateway at ``url``.

    Raises:
        InstancesMissingError: they did not within ``timeout`` seconds; the message says how many came up.
    """
    deadline = time.monotonic() + timeout
    up = serving(url)
    while up < count:
        if time.monotonic() >= deadline:
            raise InstancesMissingError(
                f"only {up} of {count} upstream instances were serving behind the gateway after {timeout:g} s; "
                "the memory figure would not measure what it claims, so the bench stops here"
            )
        time.sleep(poll)
        up = serving(url)


def _rss_with_instances(tmp: str, env: dict[str, str], root: Path, count: int) -> float:
    """Start ``count`` filesystem instances behind one gateway; the gateway's RSS once all serve."""
    ports = [free_port() for _ in range(count)]
    gateway_port = free_port()
    config = Path(tmp) / "gateway20.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "gateway": {"port": gateway_port},
                "registry": {"static": {"filesystem": [{"url": f"http://127.0.0.1:{p}/mcp"} for p in ports]}},
            }
        )
    )
    servers = [
        subprocess.Popen(
            cli("serve", "filesystem", str(root), "--transport", "http", "--port", str(p)),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for p in ports
    ]
    try:
        for port in ports:
            wait_healthy(f"http://127.0.0.1:{port}/health", "a filesystem instance", timeout=60)
        with _child(
            cli("gateway", "--config", str(config)), env, f"http://127.0.0.1:{gateway_port}/ready", "the gateway"
        ) as gw:
            _wait_serving(f"http://127.0.0.1:{gateway_port}/v1/instances", count, timeout=30)
            for _ in range(200):  # some traffic, so pools and buffers are in use
                httpx.post(
                    f"http://127.0.0.1:{gateway_port}/mcp/v1/tools/call",
                    json={"name": "filesystem_list_allowed_directories", "arguments": {}},
                    timeout=5,
                )
            return _rss_mb(gw.pid)
    finally:
        stop_children(servers, grace_seconds=15)


def run(iterations: int) -> bool:
    """Print the gateway rows; ``True`` when every one met its target."""
    return bench_gateway(iterations)
