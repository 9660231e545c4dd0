"""Bench the filesystem server over stdio: ``get_file_info`` on a small file, ``read_text_file`` of 100 KB.

Launches ``mcp-suite serve filesystem <tmpdir>`` (as ``python -m suite.cli``) with the SDK client,
warms up, then times sequential calls and prints p50/p90/p99 in milliseconds and calls per second.
Targets: get_file_info p50 <= 1.5 ms, read_text_file (100 KB) p50 <= 3 ms.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

SMALL_FILE = "small.txt"
LARGE_FILE = "large.txt"
LARGE_BYTES = 100 * 1024
WARMUP = 30


@dataclass(frozen=True)
class BenchRow:
    """One measurement: latency percentiles in milliseconds, throughput, and the target it is held to."""

    name: str
    mode: str
    calls: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    calls_per_second: float
    target_p50_ms: float | None = None

    @property
    def met(self) -> bool:
        return self.target_p50_ms is None or self.p50_ms <= self.target_p50_ms

    def line(self) -> str:
        target = "" if self.target_p50_ms is None else f"  target p50 <= {self.target_p50_ms} ms: "
        verdict = "" if self.target_p50_ms is None else ("met" if self.met else "MISSED")
        return (
            f"{self.name:<34} {self.mode:<7} n={self.calls:<5} p50 {self.p50_ms:6.3f} ms  p90 {self.p90_ms:6.3f} ms  "
            f"p99 {self.p99_ms:6.3f} ms  {self.calls_per_second:8.1f} calls/s{target}{verdict}"
        )


def percentile(samples: Sequence[float], fraction: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def _fixture(directory: str) -> None:
    with open(os.path.join(directory, SMALL_FILE), "w", encoding="utf-8") as handle:
        handle.write("a small file\nwith two lines\n")
    line = "the quick brown fox jumps over the lazy dog, 0123456789 ABCDEFGHIJ\n"
    with open(os.path.join(directory, LARGE_FILE), "w", encoding="utf-8") as handle:
        handle.write((line * (LARGE_BYTES // len(line) + 1))[:LARGE_BYTES])


async def _time(client: Client, tool: str, arguments: dict[str, Any], iterations: int) -> tuple[list[float], float]:
    for _ in range(WARMUP):
        await client.call_tool(tool, arguments)
    samples: list[float] = []
    started = time.perf_counter()
    for _ in range(iterations):
        begin = time.perf_counter()
        result = await client.call_tool(tool, arguments)
        samples.append(time.perf_counter() - begin)
        if result.is_error:
            raise RuntimeError(f"{tool} failed during the bench: {result.content}")
    return samples, time.perf_counter() - started


def _row(name: str, mode: str, samples: list[float], elapsed: float, target: float | None) -> BenchRow:
    return BenchRow(
        name=name,
        mode=mode,
        calls=len(samples),
        p50_ms=percentile(samples, 0.50) * 1000,
        p90_ms=percentile(samples, 0.90) * 1000,
        p99_ms=percentile(samples, 0.99) * 1000,
        calls_per_second=len(samples) / elapsed if elapsed else 0.0,
        target_p50_ms=target,
    )


async def bench_filesystem(iterations: int, modes: Sequence[str] = ("auto", "legacy")) -> list[BenchRow]:
    """Time the two calls over stdio in each protocol mode; print and return one row per measurement."""
    rows: list[BenchRow] = []
    with tempfile.TemporaryDirectory(prefix="mcp-suite-bench-") as directory, tempfile.TemporaryDirectory() as data:
        _fixture(directory)
        env = {key: value for key, value in os.environ.items() if not key.startswith("MCP_SUITE_")}
        env.update(
            {
                "MCP_SUITE_DATA_DIR": data,
                "MCP_SUITE_LOG_LEVEL": "warning",
                "MCP_SUITE_FILESYSTEM__MAX_READ_BYTES": str(4 * LARGE_BYTES),
            }
        )
        params = StdioServerParameters(
            command=sys.executable, args=["-m", "suite.cli", "serve", "filesystem", directory], env=env
        )
        for mode in modes:
            async with Client(params, mode=mode) as client:
                info, elapsed = await _time(client, "get_file_info", {"path": SMALL_FILE}, iterations)
                rows.append(_row("get_file_info (small file)", mode, info, elapsed, 1.5))
                read_args = {"path": LARGE_FILE, "max_bytes": 2 * LARGE_BYTES}
                check = await client.call_tool("read_text_file", read_args)
                structured = check.structured_content or {}
                if check.is_error or structured.get("truncated") or structured.get("size_bytes") != LARGE_BYTES:
                    raise RuntimeError("read_text_file did not return the whole 100 KB file")
                read, elapsed = await _time(client, "read_text_file", read_args, iterations)
                rows.append(_row("read_text_file (100 KB, whole)", mode, read, elapsed, 3.0))
    for row in rows:
        print(row.line())
    return rows


def run(iterations: int) -> bool:
    """Print the filesystem rows; ``True`` when every one met its target."""

    async def measure() -> bool:
        rows = await bench_filesystem(iterations)
        return all(row.met for row in rows)

    return anyio.run(measure)
