"""``mcp-suite bench aiml``: the local model's tokens/s, the embedder's embeddings/s, the server's added
p50 over calling the same provider directly, and the time to the first progress notification of a
streamed generation against the provider's own time to first token.

Everything runs on the bundled models (nothing is downloaded). The added p50 is measured as every
bench measures it (:mod:`suite.bench.lean_client`): ``mcp-suite serve aiml --transport http`` in a
child process, driven by raw stateless ``tools/call`` requests on the lean client (the server's fast
path), against the provider's own ``embed`` in this process, beside a no-op tool's floor, in two
interleaved rounds. Tokens/s, embeddings/s and the first progress run in this process: the server
through the SDK's in-memory client, the direct side on the provider object the server holds, each
round interleaving both sides so the machine's load falls on them alike. The load average is printed
with the figures. Goals: added p50 under 2 ms; first progress under 1.5x the provider's first token.
Exit status 1 when one is missed.
"""

from __future__ import annotations

import itertools
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import aclosing, contextmanager
from pathlib import Path
from typing import Any

import anyio
from mcp import Client

from servers.aiml.providers.base import Delta, GenerationOptions
from servers.aiml.server import build_server
from servers.aiml.service import AimlService
from servers.aiml.settings import aiml_settings
from suite.bench.lean_client import LeanCaller, measure_added
from suite.bench.noop_server import noop_server
from suite.bench.processes import served_over_http
from suite.settings import load_suite_settings

ADDED_P50_GOAL_MS = 2.0
RATE = 50.0
IN_FLIGHT = 8
READY_SECONDS = 300.0
FIRST_PROGRESS_GOAL = 1.5
SENTENCES = [f"Sentence number {i} is about rivers, mountains and the weather in spring." for i in range(100)]
PROMPT = "The history of the city begins"


def load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def spread(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return f"p50 {statistics.median(ordered):.3f}  p90 {p90:.3f}  min {ordered[0]:.3f}  max {ordered[-1]:.3f}"


async def _tokens_per_second(service: AimlService, runs: int, tokens: int) -> list[float]:
    local = service.providers["local"]
    rates = []
    for run in range(runs):
        started = time.perf_counter()
        produced = 0
        async for event in local.complete("gemma3-270m", f"{run}. {PROMPT}", GenerationOptions(tokens, 0.8)):
            if isinstance(event, Delta) and event.text:
                produced += 1
        rates.append(produced / (time.perf_counter() - started))
    return rates


async def _embeddings_per_second(service: AimlService, runs: int) -> list[float]:
    local = service.providers["local"]
    rates = []
    for _ in range(runs):
        started = time.perf_counter()
        await local.embed("all-MiniLM-L6-v2", SENTENCES)
        rates.append(len(SENTENCES) / (time.perf_counter() - started))
    return rates


@contextmanager
def aiml_server(tmp: Path) -> Iterator[tuple[str, int]]:
    """``mcp-suite serve aiml --transport http`` on the bundled models; yields (MCP URL, pid) once warm."""
    with served_over_http(tmp, "aiml", {}, "aiml", READY_SECONDS, data_dir=tmp / "aiml-data") as served:
        yield served


async def _added_latency(service: AimlService, url: str, floor_url: str, calls: int, pid: int) -> bool:
    """One short text through ``embed`` over HTTP against the provider's ``embed`` here; prints the rounds."""
    local = service.providers["local"]
    texts = (f"a short text {n}" for n in itertools.count())  # every text new: no cache answers either side
    server, floor = LeanCaller(url, IN_FLIGHT), LeanCaller(floor_url, IN_FLIGHT)

    async def through(_call: int) -> None:
        await server.call("embed", {"texts": [next(texts)]})

    async def direct(_call: int) -> None:
        await local.embed("all-MiniLM-L6-v2", [next(texts)])

    async def no_op(_call: int) -> None:
        await floor.call("noop", {})

    try:
        added = await measure_added(
            "embed 1 text", through, direct, no_op, calls=calls, rate=RATE, in_flight=IN_FLIGHT, server_pid=pid
        )
    finally:
        await server.aclose()
        await floor.aclose()
    print("\n".join(added.lines(ADDED_P50_GOAL_MS)))
    return added.met(ADDED_P50_GOAL_MS)


async def _first_progress(client: Client, service: AimlService, runs: int) -> tuple[list[float], list[float]]:
    """ms to the first progress notification through the server, and to the provider's first token."""
    local = service.providers["local"]
    through: list[float] = []
    direct: list[float] = []
    for run in range(runs):
        started = time.perf_counter()
        # Each prompt starts differently, so llama.cpp's prompt cache never serves one side from the other's run.
        prompt = f"{run}a. {PROMPT}"
        async with aclosing(local.complete("gemma3-270m", prompt, GenerationOptions(4, 0.8))) as events:
            async for event in events:
                if isinstance(event, Delta) and event.text:
                    direct.append((time.perf_counter() - started) * 1000)
                    break
        through.append(await _one_first_progress(client, f"{run}b. {PROMPT}"))
    return through, direct


async def _one_first_progress(client: Client, prompt: str) -> float:
    first: list[float] = []
    began = time.perf_counter()

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        if not first:
            first.append((time.perf_counter() - began) * 1000)

    await client.call_tool("generate", {"prompt": prompt, "max_tokens": 4}, progress_callback=on_progress)
    return first[0]


def run(iterations: int, quick: bool = False) -> bool:
    runs = 3 if quick else 10
    calls = 50 if quick else max(200, iterations)
    tokens = 16 if quick else 64
    with tempfile.TemporaryDirectory(prefix="mcp-suite-bench-aiml-") as name:
        settings = load_suite_settings(None, data_dir=Path(name), aiml={"progress_interval_seconds": 0})
        service = AimlService(aiml_settings(settings), Path(name))

        async def measure() -> bool:
            await service.warm_up()
            print(f"aiml bench: load average {load()} on {os.cpu_count()} cores")
            rates = await _tokens_per_second(service, runs, tokens)
            print(f"  local gemma3-270m tokens/s ({runs} runs of {tokens}): {spread(rates)}")
            embeds = await _embeddings_per_second(service, runs)
            print(f"  local all-MiniLM-L6-v2 embeddings/s ({runs} runs of 100): {spread(embeds)}")
            with aiml_server(Path(name)) as (url, pid), noop_server(Path(name)) as (floor_url, _):
                added_met = await _added_latency(service, url, floor_url, calls, pid)
            async with Client(build_server(settings, service)) as client:
                first, token = await _first_progress(client, service, runs)
            ratio = statistics.median(first) / statistics.median(token)
            print(f"  first progress, ms ({runs}): {spread(first)}")
            print(f"  provider first token, ms ({runs}): {spread(token)}")
            ratio_met = ratio < FIRST_PROGRESS_GOAL
            print(
                f"  first progress / first token p50 {ratio:.2f} (goal < {FIRST_PROGRESS_GOAL}): {'met' if ratio_met else 'MISSED'}"
            )
            await service.aclose()
            return added_met and ratio_met

        met: Any = anyio.run(measure)
    return bool(met) or quick
