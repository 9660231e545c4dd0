"""The memory bench's processes: ``mcp-suite serve memory`` children and writer processes.

:func:`memory_server` runs one server over HTTP with a config file for its store and yields its MCP
URL. :func:`run_writers` starts writer processes (``python -m suite.bench.memory_writer``) at once
and collects what each reports; they write through a server's URL or straight into a SQLite file.
The concurrency scenario and ``mcp-suite bench memory`` both use them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from suite.bench.processes import served_over_http

READY_SECONDS = 120.0


@contextmanager
def memory_server(
    tmp: Path, name: str, memory: dict[str, Any], ready_seconds: float = READY_SECONDS
) -> Iterator[tuple[str, int]]:
    """``mcp-suite serve memory`` over HTTP with the ``memory`` section given; yields (MCP URL, pid)."""
    with served_over_http(tmp, "memory", memory, f"memory-{name}", ready_seconds, tmp / f"data-{name}") as served:
        yield served


def run_writers(argvs: Sequence[Sequence[str]], timeout: float = 600.0) -> list[dict[str, Any]]:
    """Start one ``memory_writer`` per argument list at once; each one's JSON report, in order.

    Raises:
        RuntimeError: a writer exited with an error or printed no report.
    """
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "suite.bench.memory_writer", *argv],
            env={k: v for k, v in os.environ.items() if not k.startswith("MCP_SUITE_")},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for argv in argvs
    ]
    reports: list[dict[str, Any]] = []
    for process in processes:
        out, err = process.communicate(timeout=timeout)
        if process.returncode != 0:
            raise RuntimeError(f"a memory writer exited with {process.returncode}: {err.decode()[-2000:]}")
        reports.append(json.loads(out.decode().strip().splitlines()[-1]))
    return reports
