"""Bench discovery: how fast the gateway follows Consul, and what routing costs as instances grow.

Runs against the ConsulDouble (tests/support/consul_double.py: a real HTTP server with Consul's
blocking-query semantics; no Consul can be installed here) and real SDK demo upstreams. 200
instances are registered across the six server names; they point at a few real upstreams (each
instance is its own pool member with its own connection, breaker and listing), so the
registry -> catalog -> pool -> router path is the real one.

Measured:
- *seen*: from a write in the double (the index moves) to ConsulRegistry.instances() showing it;
- *serving*: from the same write to the new member serving in the gateway's pool (connected,
  listed, admitted): what a client's next call can be routed to. Target: at most 1 s.
- *routed call*: one echo through Gateway.call_tool (policy, bulkhead, balancer pick, breaker,
  forward over HTTP to a real upstream) with 10, 50 and 200 instances in the pool, and the
  pick alone (Router._pick). Target: the routed call grows no worse than log(n).
"""

from __future__ import annotations

import importlib
import logging
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import anyio

from gateway.call.catalog import ALL
from gateway.settings import SERVER_NAMES, GatewaySettings
from mesh.config import Settings

TOTAL = 200
TARGET_SECONDS = 1.0
SIZES = (10, 50, 200)


def _double_module() -> Any:
    root = str(Path(__file__).resolve().parents[2])
    if root not in sys.path:
        sys.path.insert(0, root)
    # the double lives with the tests; imported by name so the package does not depend on tests/
    return importlib.import_module("tests.support.consul_double"), importlib.import_module("tests.support.upstreams")


async def _until(predicate: Any, timeout: float) -> float:
    started = time.perf_counter()
    with anyio.fail_after(timeout):
        while not predicate():  # noqa: ASYNC110 - polls state another task changes; 2 ms resolution
            await anyio.sleep(0.002)
    return time.perf_counter() - started


async def _bench(iterations: int) -> bool:
    for name in ("httpx", "mcp_suite", "mcp", "uvicorn"):
        logging.getLogger(name).setLevel(logging.WARNING)
    from gateway.call.service import Gateway
    from mesh.consul import ConsulRegistry

    consul_double, upstreams = _double_module()
    double = consul_double.ConsulDouble()
    replicas = [upstreams.Replica(f"r{i}") for i in range(3)]
    servers = [upstreams.HttpUpstream(upstreams.demo_server(r)) for r in replicas]
    ok = True
    async with anyio.create_task_group() as tg:
        await double.start(tg)
        for server in servers:
            await server.start(tg)
        settings = Settings(registry={"kind": "consul", "consul": {"address": double.address}})  # type: ignore[arg-type]
        registry = ConsulRegistry(settings, servers=SERVER_NAMES, backoff_cap_seconds=0.5)
        gateway = Gateway(GatewaySettings(refresh_interval_seconds=300, connect_timeout_seconds=20), registry)
        counter = iter(range(10**6))

        def add(server: str) -> str:
            n = next(counter)
            service_id = f"mcp-{server}-{n}"
            double.add_service(f"mcp-{server}", service_id, servers[n % len(servers)].port, meta={"path": "/mcp"})
            return service_id

        def serving(server: str, service_id: str) -> bool:
            pool = gateway.pools.get(server)
            return pool is not None and service_id in pool.members and pool.members[service_id].serves()

        async with gateway.running():
            started = time.perf_counter()
            for batch in range(0, TOTAL, 25):  # replicas come up a batch at a time, as in a rolling start
                for i in range(batch, min(TOTAL, batch + 25)):
                    add(SERVER_NAMES[i % len(SERVER_NAMES)])
                want = min(TOTAL, batch + 25)
                await _until(lambda w=want: sum(len(p.serving()) for p in gateway.pools.values()) >= w, 30)
            print(
                f"discovery: {TOTAL} instances across {len(SERVER_NAMES)} servers "
                f"(on {len(servers)} real upstreams) serving {time.perf_counter() - started:.2f}s after start"
            )
            seen_times: list[float] = []
            serve_times: list[float] = []
            trials = max(5, min(20, iterations // 20))
            for trial in range(trials):
                server = SERVER_NAMES[trial % len(SERVER_NAMES)]
                began = time.perf_counter()
                service_id = add(server)
                await _until(lambda s=server, i=service_id: any(x.instance_id == i for x in registry.instances(s)), 10)
                seen_times.append(time.perf_counter() - began)
                await _until(lambda s=server, i=service_id: serving(s, i), 10)
                serve_times.append(time.perf_counter() - began)
            worst = max(serve_times)
            met = worst <= TARGET_SECONDS
            ok = ok and met
            print(
                f"discovery: change seen by ConsulRegistry  p50 {statistics.median(seen_times) * 1000:7.1f} ms  "
                f"max {max(seen_times) * 1000:7.1f} ms  ({trials} registrations, {TOTAL}+ instances watched)"
            )
            print(
                f"discovery: new member serving in the pool p50 {statistics.median(serve_times) * 1000:7.1f} ms  "
                f"max {worst * 1000:7.1f} ms  target <= {TARGET_SECONDS * 1000:.0f} ms: {'met' if met else 'MISSED'}"
            )

            # routing cost as one pool grows: the filesystem pool goes 10 -> 50 -> 200 members
            pool_name = "filesystem"
            # Only this pool stays registered: the gateway holds one long-lived connection per member
            # (a subscriptions/listen stream) in a 256-connection pool, so 200 + 200 members would starve it.
            for other in [sid for sid, svc in double.services.items() if svc.name != f"mcp-{pool_name}"]:
                double.remove_service(other)
            await _until(lambda: all(not p.members for n, p in gateway.pools.items() if n != pool_name), 30)
            calls = max(50, iterations)
            rows: list[tuple[int, float, float]] = []
            for size in SIZES:
                while len(gateway.pools[pool_name].members) > size:
                    victim = next(iter(gateway.pools[pool_name].members))
                    double.remove_service(victim)
                    await _until(lambda v=victim: v not in gateway.pools[pool_name].members, 10)
                while len(gateway.pools[pool_name].members) < size:
                    batch = min(25, size - len(gateway.pools[pool_name].members))
                    added = [add(pool_name) for _ in range(batch)]
                    await _until(lambda a=added: all(serving(pool_name, s) for s in a), 60)
                pool = gateway.pools[pool_name]
                params = {"arguments": {"text": "x"}}
                for _ in range(20):
                    await gateway.call_tool(ALL, f"{pool_name}_echo", params)
                began = time.perf_counter()
                for _ in range(calls):
                    await gateway.call_tool(ALL, f"{pool_name}_echo", params)
                per_call = (time.perf_counter() - began) / calls
                began = time.perf_counter()
                for _ in range(calls * 10):
                    gateway.router._pick(pool, None, set())  # the pick alone, as the router does it
                per_pick = (time.perf_counter() - began) / (calls * 10)
                rows.append((len(pool.members), per_call, per_pick))
                print(
                    f"discovery: routed call with {len(pool.members):>3} instances  {per_call * 1e6:8.1f} us/call  "
                    f"(pick alone {per_pick * 1e6:6.2f} us)  n={calls}"
                )
            growth = rows[-1][1] / rows[0][1]
            allowed = math.log(rows[-1][0]) / math.log(rows[0][0])
            pick_growth = rows[-1][2] / rows[0][2]
            met = growth <= allowed and pick_growth <= allowed
            ok = ok and met
            print(
                f"discovery: routed call {rows[0][0]}->{rows[-1][0]} instances x{growth:.2f}, pick alone "
                f"x{pick_growth:.2f} (log bound x{allowed:.2f}): {'met' if met else 'MISSED'}"
            )
        tg.cancel_scope.cancel()
    return ok


def run(iterations: int) -> bool:
    return anyio.run(_bench, iterations)
