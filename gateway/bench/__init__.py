"""``mcp-suite bench``: time calls over the real transports and print the figures.

``run_bench(args)`` runs the benches ``args.only`` selects (``None`` = all); each prints its rows.
The exit status is 1 when a measurement misses its target, so CI can hold the line.
"""

from __future__ import annotations

import argparse

import anyio


def run_bench(args: argparse.Namespace) -> int:
    from gateway.bench.filesystem import bench_filesystem

    only = getattr(args, "only", None)
    iterations = max(1, int(getattr(args, "iterations", 300)))
    missed = False
    if only in (None, "filesystem"):

        async def run() -> bool:
            rows = await bench_filesystem(iterations)
            return all(row.met for row in rows)

        missed = not anyio.run(run) or missed
    if only in (None, "gateway"):
        from gateway.bench.gateway import bench_gateway

        missed = not bench_gateway(iterations) or missed
    return 1 if missed else 0
