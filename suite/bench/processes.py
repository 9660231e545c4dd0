"""What the benches need to run the suite's own processes: the command line, a clean environment,
a free port, and waiting until a process answers.

Each bench starts servers and gateways as a user would (``python -m suite.cli ...``) with the
environment's ``MCP_SUITE_*`` settings removed, so that a developer's shell does not change what a
bench measures.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli(*args: str) -> list[str]:
    """The argv of ``mcp-suite ARGS`` in this interpreter."""
    return [sys.executable, "-m", "suite.cli", *args]


def bench_env(data_dir: str) -> dict[str, str]:
    """This process's environment without ``MCP_SUITE_*``, with its own data dir and quiet logs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCP_SUITE_")}
    env["MCP_SUITE_DATA_DIR"] = data_dir
    env["MCP_SUITE_LOG_LEVEL"] = "warning"
    return env


def wait_healthy(url: str, what: str, timeout: float = 30.0) -> None:
    """Poll ``url`` until it answers below 500.

    Raises:
        RuntimeError: not within ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not answer {url} within {timeout:.0f}s")


def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path, what: str, timeout: float) -> None:
    """Poll ``url`` (a ``/health``) until it answers 200, failing early when ``process`` exits.

    Raises:
        RuntimeError: the process exited, or was not ready within ``timeout`` seconds (with the end of
            its ``log``).
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} was not ready at {url} within {timeout:.0f}s: {log.read_text()[-2000:]}")
