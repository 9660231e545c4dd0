"""``mcp-suite up``: every server of the suite and the gateway as child processes, kept running.

- :mod:`.plan` decides the children, their ports and command lines, and writes the gateway's config;
- :mod:`.children` spawns, signals and reaps one child process;
- :mod:`.process_supervisor` restarts crashed children with back-off and stops them all on a signal;
- :mod:`.status_table` draws the live table (terminal) or logs JSON lines (anything else);
- :mod:`.status_report` is ``mcp-suite status``: the gateway's instances as a table.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import anyio

from mesh.config import Settings
from mesh.telemetry import JsonLineFormatter, configure_logging
from suite.launcher.children import rotate_log
from suite.launcher.plan import Plan, PlanError, build_plan, log_dir_of, parse_replicas, write_gateway_config
from suite.launcher.process_supervisor import Launcher

__all__ = ["Launcher", "Plan", "PlanError", "build_plan", "parse_replicas", "run_up"]


def _log_to_file(settings: Settings) -> Path:
    """On a terminal the table owns the screen: the launcher's JSON log goes to a file instead."""
    path = log_dir_of(settings) / "launcher.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(JsonLineFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return path


def run_up(
    settings: Settings,
    known: Iterable[str],
    *,
    config_file: Path | None,
    replicas: Mapping[str, int] | None = None,
    table: bool = False,
) -> int:
    """Start the suite and block until SIGINT/SIGTERM; 0 once every child has stopped."""
    plan = build_plan(settings, known, config_file=config_file, replicas=replicas)
    if table:
        _log_to_file(settings)
    else:
        configure_logging(settings.log_level, service="launcher")
        for noisy in ("httpx", "httpcore"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    write_gateway_config(plan)
    for spec in plan.children:
        rotate_log(spec.log_path)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    launcher = Launcher(
        plan,
        env=env,
        grace_seconds=settings.shutdown_grace_seconds + 2.0,
        table=sys.stdout if table else None,
    )
    try:
        return anyio.run(launcher.run)
    finally:
        launcher.kill_leftovers()
