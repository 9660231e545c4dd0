"""A lean JSON-RPC client for stdio MCP servers: the load generator of ``mcp-suite bench stdio``.

It spawns a server command, speaks either protocol era (``legacy``: the ``initialize`` handshake, as
the Node and Go peers need; ``modern``: the 2026-07-28 per-request envelope, what the SDK client's
``mode="auto"`` speaks), keeps any number of calls in flight on one pipe and matches answers by id.
It parses each answer once and does nothing else, so at concurrency 8 on two cores the server, not
the client, is what the figures measure.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from suite.bench.processes import cpu_seconds

Era = Literal["legacy", "modern"]
LEGACY_VERSION = "2025-11-25"
MODERN_VERSION = "2026-07-28"
CLIENT_INFO = {"name": "mcp-suite-bench", "version": "1"}
LINE_LIMIT = 64 * 1024 * 1024


class CallFailed(RuntimeError):
    """A call answered with a JSON-RPC error or a tool error, or the server went away."""


@dataclass(frozen=True)
class Load:
    """What a batch of calls measured: per-call latencies (seconds), wall time and the server's CPU."""

    latencies: list[float]
    elapsed: float
    server_cpu: float

    @property
    def calls_per_second(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def cpu_per_call_us(self) -> float:
        return self.server_cpu / len(self.latencies) * 1e6 if self.latencies else 0.0

    def p50_ms(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[len(ordered) // 2] * 1000 if ordered else 0.0


class StdioPeer:
    """One server process on a pipe; ``async with`` starts it, opens the era, and stops it."""

    def __init__(
        self, argv: Sequence[str], *, era: Era, env: Mapping[str, str] | None = None, cwd: str | None = None
    ) -> None:
        self.argv = list(argv)
        self.era = era
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self._process: asyncio.subprocess.Process | None = None
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._next_id = 0
        self._reader: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    async def __aenter__(self) -> StdioPeer:
        self._process = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=self.env,
            cwd=self.cwd,
            limit=LINE_LIMIT,
        )
        self._reader = asyncio.create_task(self._read())
        if self.era == "legacy":
            params = {"protocolVersion": LEGACY_VERSION, "capabilities": {}, "clientInfo": CLIENT_INFO}
            await self.request("initialize", params)
            self._write({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return self

    async def __aexit__(self, *_exc: object) -> None:
        process = self._process
        assert process is not None and process.stdin is not None
        process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)

    def _write(self, message: dict[str, Any]) -> None:
        assert self._process is not None and self._process.stdin is not None
        self._process.stdin.write(json.dumps(message, separators=(",", ":")).encode() + b"\n")

    async def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        stdout = self._process.stdout
        while line := await stdout.readline():
            message = json.loads(line)
            future = self._pending.pop(message.get("id"), None) if "method" not in message else None
            if future is not None and not future.done():
                future.set_result(message)
        for future in self._pending.values():
            if not future.done():
                future.set_exception(CallFailed("the server closed its stdout"))

    async def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """The ``result`` of one request; a JSON-RPC error raises :class:`CallFailed`."""
        self._next_id += 1
        request_id = self._next_id
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        if self.era == "modern":
            meta = {
                "io.modelcontextprotocol/protocolVersion": MODERN_VERSION,
                "io.modelcontextprotocol/clientInfo": CLIENT_INFO,
                "io.modelcontextprotocol/clientCapabilities": {},
            }
            params = {**params, "_meta": {**params.get("_meta", {}), **meta}}
        self._write({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
        answer = await future
        if "error" in answer:
            raise CallFailed(f"{method} failed: {answer['error']}")
        result: dict[str, Any] = answer["result"]
        return result

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        result = await self.request("tools/call", {"name": name, "arguments": arguments})
        if result.get("isError"):
            raise CallFailed(f"{name} answered a tool error: {result.get('content')}")
        return result

    async def load(self, name: str, arguments: dict[str, Any], calls: int, concurrency: int) -> Load:
        """``calls`` calls of one tool, ``concurrency`` in flight (closed loop), timed one by one."""
        latencies: list[float] = []
        remaining = calls

        async def caller() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                begin = time.perf_counter()
                await self.call_tool(name, arguments)
                latencies.append(time.perf_counter() - begin)

        cpu_before = cpu_seconds(self.pid)
        started = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        return Load(latencies, elapsed, cpu_seconds(self.pid) - cpu_before)
