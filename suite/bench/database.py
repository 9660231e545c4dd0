"""Bench the database server: ``sql_query`` on a primary-key lookup over streamable HTTP at concurrency 16.

Creates a scratch schema on the local PostgreSQL (``postgresql://postgres@127.0.0.1:5432/test``, or
``$MCP_SUITE_BENCH_PG_URL``) with a 10 000-row table, starts ``mcp-suite serve database --transport
http`` as a child process with one read-only connection to it, and drives the stateless 2026-07-28
wire with the lean pooled client of ``gateway/upstream/http1.py`` (the same load generator as the gateway bench). Every call is a
full read: the parse-level check, ``BEGIN READ ONLY`` + ``SET LOCAL statement_timeout`` (sent with the
previous read's ``ROLLBACK`` in one message), the parameterised lookup, with the pool reused across calls.

Two phases against the same server. First a closed loop (16 callers, each sending its next call as
its last is answered): latency at saturation, mostly queueing (mean latency = 16 / throughput), which
the targets are checked against: p99 < 10 ms and >= 500 queries/s on a 2-core machine. Then a paced
phase: calls due on a fixed schedule at ``PACED_RATE`` calls/s, at most 16 in flight, each latency
counted from its scheduled time (coordinated omission corrected): latency at an offered load. Its
verdict is printed but does not change the exit status. The host's steal time during each phase is
printed too: on a VM, a run with more than ~1 % of the CPU time stolen does not compare with a quiet
one. The schema is dropped afterwards.
"""

from __future__ import annotations

import os
import secrets
import tempfile
import time
from pathlib import Path

import anyio
import asyncpg  # type: ignore[import-untyped]
import yaml

from mesh import runtime
from suite.bench.gateway import LoadResult, _child, _load, paced_line, paced_load, warmup_calls
from suite.bench.processes import bench_env, cli, cpu_seconds, free_port

PG_URL = os.environ.get("MCP_SUITE_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
CONCURRENCY = 16
POOL_SIZE = CONCURRENCY  # a connection for every call in flight: none waits for one (10 gave p99 +1-3 ms)
TARGET_P99_MS = 10.0
TARGET_RPS = 500.0
PACED_RATE = 1000.0  # calls/s offered in the paced phase: twice the 500 q/s floor
SETUP = """
CREATE SCHEMA {s};
CREATE TABLE {s}.kv (id integer PRIMARY KEY, name text NOT NULL);
INSERT INTO {s}.kv SELECT g, 'name ' || g FROM generate_series(1, 10000) g;
ANALYZE {s}.kv;
"""


async def _sql(statement: str) -> None:
    conn = await asyncpg.connect(PG_URL)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def host_cpu() -> tuple[int, int]:
    """(stolen, all) CPU time of the whole machine so far, in clock ticks (Linux ``/proc/stat``).

    Steal is time the hypervisor gave this VM's virtual CPUs to someone else: a span with a few percent
    of it ran on a machine slower than usual, and its figures do not compare with a quiet one's.
    """
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return fields[7], sum(fields)  # user nice system idle iowait irq softirq steal (guest time is in user)


def steal_percent(before: tuple[int, int], after: tuple[int, int]) -> float:
    """The share of the machine's CPU time stolen between two :func:`host_cpu` readings, in percent."""
    stolen, total = after[0] - before[0], after[1] - before[1]
    return 100.0 * stolen / total if total > 0 else 0.0


def bench_database(iterations: int) -> bool:
    """Print the PK lookup's figures at c=16, closed loop then paced; True when the closed loop met both targets.

    And none of its calls failed: the paced phase's verdict is printed, never part of the answer.
    """
    schema = f"mcp_bench_{secrets.token_hex(4)}"
    setup = SETUP.replace("{s}", schema)
    anyio.run(_sql, setup)
    try:
        with tempfile.TemporaryDirectory(prefix="mcp-suite-bench-") as tmp:
            port = free_port()
            config = Path(tmp) / "database.yaml"
            config.write_text(
                yaml.safe_dump(
                    {
                        "database": {
                            "port": port,
                            "pool_size": POOL_SIZE,
                            "connections": {"bench": {"url": PG_URL, "access": "read_only"}},
                        }
                    }
                )
            )
            argv = cli("serve", "database", "--transport", "http", "--port", str(port), "--config", str(config))
            lookup = f"SELECT id, name FROM {schema}.kv WHERE id = $1"  # noqa: S608 - a generated name
            arguments: dict[str, object] = {"sql": lookup, "params": [4242]}
            health = f"http://127.0.0.1:{port}/health"
            with _child(argv, bench_env(str(Path(tmp) / "data")), health, "the database server") as process:
                url = f"http://127.0.0.1:{port}/mcp"
                calls = max(200, iterations)
                server_cpu, client_cpu, host = cpu_seconds(process.pid), time.process_time(), host_cpu()
                result = runtime.run("auto", _load, "sql_query", url, "sql_query", arguments, CONCURRENCY, calls)
                calls += warmup_calls(calls, CONCURRENCY)  # the load's warm-up calls count too
                server_us = (cpu_seconds(process.pid) - server_cpu) / calls * 1e6
                client_us = (time.process_time() - client_cpu) / calls * 1e6
                steal = steal_percent(host, host_cpu())
                host = host_cpu()
                paced, paced_server_us, paced_client_us = _paced(process.pid, url, arguments, max(2000, iterations))
                paced_steal = steal_percent(host, host_cpu())
    finally:
        anyio.run(_sql, f"DROP SCHEMA {schema} CASCADE")
    print(result.line() + f"  pool size {POOL_SIZE}")
    print(f"CPU per call: server {server_us:.0f} us, load generator {client_us:.0f} us (both on this machine's cores)")
    p99_met, rps_met = result.p99_ms < TARGET_P99_MS, result.rps >= TARGET_RPS
    print(
        f"sql_query PK lookup over HTTP, c={CONCURRENCY}: p99 {result.p99_ms:.2f} ms (target < {TARGET_P99_MS:.0f} ms): "
        f"{'met' if p99_met else 'MISSED'}; {result.rps:.0f} queries/s (target >= {TARGET_RPS:.0f}): "
        f"{'met' if rps_met else 'MISSED'}"
    )
    print(paced_line(paced, PACED_RATE))
    print(f"CPU per call, paced: server {paced_server_us:.0f} us, load generator {paced_client_us:.0f} us")
    print(
        f"host steal: {steal:.1f} % of CPU time in the closed loop, {paced_steal:.1f} % paced "
        f"(time the hypervisor gave to other VMs: above ~1 %, these figures do not compare with a quiet run's)"
    )
    print(
        f"p99 at {PACED_RATE:.0f} q/s offered, {CONCURRENCY} in flight: {paced.p99_ms:.2f} ms "
        f"(target < {TARGET_P99_MS:.0f} ms): {'met' if paced.p99_ms < TARGET_P99_MS else 'MISSED'}"
    )
    return p99_met and rps_met and result.errors == 0


def _paced(pid: int, url: str, arguments: dict[str, object], calls: int) -> tuple[LoadResult, float, float]:
    """The paced phase at ``PACED_RATE``: its result and the server's and load generator's CPU per call (us)."""
    server_cpu, client_cpu = cpu_seconds(pid), time.process_time()
    result = runtime.run("auto", paced_load, "paced", url, "sql_query", arguments, CONCURRENCY, calls, PACED_RATE)
    calls += warmup_calls(calls, CONCURRENCY)  # its warm-up calls count too
    server_us = (cpu_seconds(pid) - server_cpu) / calls * 1e6
    client_us = (time.process_time() - client_cpu) / calls * 1e6
    return result, server_us, client_us


def run(iterations: int) -> bool:
    return bench_database(iterations)
