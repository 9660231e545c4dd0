"""``mcp-suite bench stdio``: the database and filesystem servers over stdio, side by side with their peers.

Each server runs as a child process over stdio, driven by the lean JSON-RPC client of
:mod:`suite.bench.stdio_client` (ours in both eras: the 2026-07-28 wire, as the SDK client's
``mode="auto"`` speaks it, and the 2025-11-25 handshake, as Claude Desktop and Claude Code speak it;
the peers on the handshake, all they speak). Two rounds; in each, ours and the peer run one after
the other on the same data (the order reverses between rounds), and each ratio is printed per round
with the spread between the rounds, so a machine loaded by others still gives
ratios that mean something. The load average is printed with the figures.

- **Database** against MCP Toolbox for Databases (``execute_sql`` of its prebuilt ``postgres``
  tools): the same primary-key lookup on a 10 000-row table of the local PostgreSQL. Calls/s at
  concurrency 8 (goal: at least 0.6 of Toolbox's) and server CPU per call.
- **Filesystem** against the official Node server: ``get_file_info`` on a small file, p50 of
  sequential calls (goal: at most 1.0x the Node server's) and calls/s at concurrency 8 (goal: at
  least 0.8 of its), and a whole 133 KB ``read_text_file``, p50 (goal: at most 0.8x).

The peers are installed from npm at bench time (:mod:`suite.bench.stdio_peers`). Exits 1 when a goal
is missed in either round or a peer could not run.
"""

from __future__ import annotations

import os
import secrets
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import anyio
import asyncpg  # type: ignore[import-untyped]
import yaml

from suite.bench.stdio_client import Era, Load, StdioPeer
from suite.bench.stdio_peers import Peers, PeerUnavailable, install_peers

PG_URL = os.environ.get("MCP_SUITE_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
ROUNDS = 2
CONCURRENCY = 8
WARMUP = 100
LARGE_BYTES = 133 * 1024
ERAS: tuple[tuple[Era, str], ...] = (("modern", "2026"), ("legacy", "2025"))
"""Ours runs in both protocol eras (the peers speak only the 2025-11-25 handshake)."""
SETUP = """
CREATE SCHEMA {s};
CREATE TABLE {s}.kv (id integer PRIMARY KEY, name text NOT NULL);
INSERT INTO {s}.kv SELECT g, 'name ' || g FROM generate_series(1, 10000) g;
ANALYZE {s}.kv;
"""


@dataclass(frozen=True)
class Side:
    """One server of a comparison: how to start it and the call it is timed on."""

    label: str
    argv: list[str]
    era: Era
    env: dict[str, str]
    tool: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Goal:
    """A ratio ours/peer of one figure and the bound it must keep."""

    name: str
    figure: Callable[[Load], float]
    at_most: float | None = None
    at_least: float | None = None

    def met(self, ratio: float) -> bool:
        if self.at_most is not None and ratio > self.at_most:
            return False
        return self.at_least is None or ratio >= self.at_least

    def bound(self) -> str:
        if self.at_most is not None:
            return f"goal <= {self.at_most}x"
        return f"goal >= {self.at_least}x" if self.at_least is not None else "no goal"


def _loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _our_env(data: str, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("MCP_SUITE_")}
    env.update({"MCP_SUITE_DATA_DIR": data, "MCP_SUITE_LOG_LEVEL": "warning", **extra})
    return env


def _ours(*words: str) -> list[str]:
    return [sys.executable, "-m", "suite.cli", "serve", *words]


async def _measure(side: Side, calls: int, concurrency: int) -> Load:
    async with StdioPeer(side.argv, era=side.era, env=side.env) as peer:
        await peer.load(side.tool, side.arguments, WARMUP, concurrency)
        return await peer.load(side.tool, side.arguments, calls, concurrency)


async def _compare(title: str, ours: Side, peer: Side, calls: int, concurrency: int, goals: list[Goal]) -> bool:
    """Two rounds of ours in each era and the peer (order reversed in the second); print figures and ratios.

    True if every goal was met by ours in both eras in both rounds.
    """
    mine = [replace(ours, label=f"{ours.label} {era_label}", era=era) for era, era_label in ERAS]
    rounds: list[dict[str, Load]] = []
    for index in range(ROUNDS):
        order = [*mine, peer] if index % 2 == 0 else [peer, *reversed(mine)]
        rounds.append({side.label: await _measure(side, calls, concurrency) for side in order})
    print(f"{title} (c={concurrency}, {calls} calls per side per round, load average {_loadavg()})")
    for index, loads in enumerate(rounds, 1):
        for side in (*mine, peer):
            load = loads[side.label]
            print(
                f"  round {index} {side.label:<28} p50 {load.p50_ms():7.3f} ms  {load.calls_per_second:7.0f} calls/s"
                f"  server CPU {load.cpu_per_call_us:6.0f} us/call"
            )
    met = True
    for goal in goals:
        for side in mine:
            pairs = [(loads[side.label], loads[peer.label]) for loads in rounds]
            ratios = [
                goal.figure(ours_load) / goal.figure(theirs) for ours_load, theirs in pairs if goal.figure(theirs) > 0
            ]
            verdict = all(goal.met(ratio) for ratio in ratios) and len(ratios) == ROUNDS
            met = met and verdict
            shown = ", ".join(f"{ratio:.2f}" for ratio in ratios)
            spread = max(ratios) - min(ratios) if ratios else 0.0
            print(
                f"  {goal.name}: {side.label}/{peer.label} {shown} (spread {spread:.2f}) {goal.bound()}: "
                f"{'met' if verdict else 'MISSED'}"
            )
    return met


P50 = Goal("p50", Load.p50_ms, at_most=1.0)
CPU = Goal("server CPU per call", lambda load: load.cpu_per_call_us)


async def _database(peers: Peers, data: str, iterations: int) -> bool:
    schema = f"mcp_bench_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(PG_URL)
    try:
        await conn.execute(SETUP.replace("{s}", schema))
        config = Path(data) / "database.yaml"
        connections = {"bench": {"url": PG_URL, "access": "read_only"}}
        config.write_text(yaml.safe_dump({"database": {"pool_size": CONCURRENCY, "connections": connections}}))
        ours = Side(
            "database (ours)",
            _ours("database", "--config", str(config)),
            "modern",
            _our_env(data),
            "sql_query",
            {"sql": f"SELECT id, name FROM {schema}.kv WHERE id = $1", "params": [4242]},  # noqa: S608
        )
        host, port, database = "127.0.0.1", "5432", "test"
        toolbox_env = dict(
            os.environ,
            POSTGRES_HOST=host,
            POSTGRES_PORT=port,
            POSTGRES_DATABASE=database,
            POSTGRES_USER="postgres",
            POSTGRES_PASSWORD="trust",  # noqa: S106 - Toolbox requires one; the local server trusts loopback
        )
        toolbox = Side(
            "MCP Toolbox",
            [str(peers.toolbox), "--prebuilt", "postgres", "--stdio", "--disable-version-check"],
            "legacy",
            toolbox_env,
            "execute_sql",
            {"sql": f"SELECT id, name FROM {schema}.kv WHERE id = 4242"},  # noqa: S608
        )
        throughput = Goal("calls/s", lambda load: load.calls_per_second, at_least=0.6)
        return await _compare(
            "database: PK lookup over stdio", ours, toolbox, 5 * iterations, CONCURRENCY, [throughput, CPU]
        )
    finally:
        await conn.execute(f"DROP SCHEMA {schema} CASCADE")
        await conn.close()


async def _filesystem(peers: Peers, data: str, iterations: int) -> bool:
    root = Path(data) / "files"
    root.mkdir()
    (root / "small.txt").write_text("a small file\nwith two lines\n", encoding="utf-8")
    line = "the quick brown fox jumps over the lazy dog, 0123456789 ABCDEFGHIJ\n"
    (root / "large.txt").write_text((line * (LARGE_BYTES // len(line) + 1))[:LARGE_BYTES], encoding="utf-8")
    env = _our_env(data, MCP_SUITE_FILESYSTEM__MAX_READ_BYTES=str(4 * LARGE_BYTES))
    node_env = dict(os.environ, NO_UPDATE_NOTIFIER="1")
    node = [str(peers.node), str(peers.filesystem_script), str(root)]
    small = {"path": str(root / "small.txt")}
    large = {"path": str(root / "large.txt")}

    def pair(tool: str, ours_arguments: dict[str, Any], theirs: dict[str, Any]) -> tuple[Side, Side]:
        return (
            Side("filesystem (ours)", _ours("filesystem", str(root)), "modern", env, tool, ours_arguments),
            Side("Node filesystem", node, "legacy", node_env, tool, theirs),
        )

    ours, theirs = pair("get_file_info", small, small)
    met = await _compare("filesystem: get_file_info, sequential", ours, theirs, iterations, 1, [P50, CPU])
    throughput = Goal("calls/s", lambda load: load.calls_per_second, at_least=0.8)
    met = (
        await _compare("filesystem: get_file_info", ours, theirs, 5 * iterations, CONCURRENCY, [throughput, CPU])
        and met
    )
    ours, theirs = pair("read_text_file", {**large, "max_bytes": 2 * LARGE_BYTES}, large)
    read_p50 = Goal("p50", Load.p50_ms, at_most=0.8)
    met = (
        await _compare("filesystem: read_text_file of 133 KB, sequential", ours, theirs, iterations, 1, [read_p50, CPU])
        and met
    )
    return met


def run(iterations: int) -> bool:
    """Print both comparisons; ``True`` when every goal was met in both rounds."""
    try:
        peers = install_peers()
    except PeerUnavailable as exc:
        print(f"stdio: peers not run: {exc}")
        return False
    print(f"stdio: peers {', '.join(f'{name} {version}' for name, version in peers.versions().items())}")

    async def measure() -> bool:
        with tempfile.TemporaryDirectory(prefix="mcp-suite-bench-stdio-") as data:
            database = await _database(peers, data, iterations)
            filesystem = await _filesystem(peers, data, iterations)
        return database and filesystem

    return anyio.run(measure)
