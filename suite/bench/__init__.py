"""``mcp-suite bench``: time calls over the real transports and print the figures.

``run_bench(args)`` runs the benches ``args.only`` selects (``None`` = all, in the order of
:data:`BENCHES`). Each bench module has ``run(iterations) -> bool``: it prints its rows and says
whether every measurement met its target. A module with ``ON_DEMAND = True`` (the idle soak) runs
only when named, and takes ``run(iterations, seconds=...)`` from ``--minutes``/``--seconds``; ``args.quick``
runs the benches that take ``quick`` (``run(iterations, quick=True)``) at a smoke-test size. The exit
status is 1 when one missed, so CI can hold the line.
"""

from __future__ import annotations

import argparse
import importlib
import inspect

from mesh import runtime

BENCHES: dict[str, str] = {
    "filesystem": "suite.bench.filesystem",
    "gateway": "suite.bench.gateway",
    "database": "suite.bench.database",
    "discovery": "suite.bench.consul_discovery",
    "security": "suite.bench.security",
    "vectorstore": "suite.bench.vectorstore",
    "aiml": "suite.bench.aiml",
    "memory": "suite.bench.memory",
    "search": "suite.bench.search",
    "idle-soak": "suite.bench.idle_soak",
    "stdio": "suite.bench.stdio",
}


def run_bench(args: argparse.Namespace) -> int:
    only = getattr(args, "name", None) or getattr(args, "only", None)
    quick = bool(getattr(args, "quick", False))
    iterations = max(1, int(getattr(args, "iterations", 300)))
    modules = [importlib.import_module(path) for name, path in BENCHES.items() if only in (None, name)]
    modules = [m for m in modules if only is not None or not getattr(m, "ON_DEMAND", False)]
    # The load generator runs in this process: its full collections must not stall the calls it times.
    runtime.freeze_startup_heap()
    missed = False
    for module in modules:
        if getattr(module, "ON_DEMAND", False):
            seconds = getattr(args, "seconds", None) or 60.0 * (getattr(args, "minutes", None) or 60.0)
            met = bool(module.run(iterations, seconds=seconds))
        else:
            sized = quick and "quick" in inspect.signature(module.run).parameters
            met = bool(module.run(iterations, quick=True) if sized else module.run(iterations))
        missed = missed or not met
    return 1 if missed else 0
