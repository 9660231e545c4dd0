"""``mcp-suite bench``: time calls over the real transports and print the figures.

``run_bench(args)`` runs the benches ``args.only`` selects (``None`` = all, in the order of
:data:`BENCHES`). Each bench module has ``run(iterations) -> bool``: it prints its rows and says
whether every measurement met its target. The exit status is 1 when one missed, so CI can hold the line.
"""

from __future__ import annotations

import argparse
import importlib

from mesh import runtime

BENCHES: dict[str, str] = {
    "filesystem": "suite.bench.filesystem",
    "gateway": "suite.bench.gateway",
    "database": "suite.bench.database",
    "discovery": "suite.bench.consul_discovery",
    "security": "suite.bench.security",
}


def run_bench(args: argparse.Namespace) -> int:
    only = getattr(args, "only", None)
    iterations = max(1, int(getattr(args, "iterations", 300)))
    modules = [importlib.import_module(path) for name, path in BENCHES.items() if only in (None, name)]
    # The load generator runs in this process: its full collections must not stall the calls it times.
    runtime.freeze_startup_heap()
    missed = False
    for module in modules:
        met = bool(module.run(iterations))
        missed = missed or not met
    return 1 if missed else 0
