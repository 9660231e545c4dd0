"""What the benches need to run the suite's own processes: the command line, a clean environment,
a free port, and waiting until a process answers.

Each bench starts servers and gateways as a user would (``python -m suite.cli ...``) with the
environment's ``MCP_SUITE_*`` settings removed, so that a developer's shell does not change what a
bench measures.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml


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


@contextmanager
def ready_child(argv: list[str], port: int, data_dir: Path, log_path: Path, what: str, timeout: float) -> Iterator[int]:
    """``argv`` as a child logging to ``log_path``, once ``/health`` on ``port`` answers 200; its pid.

    It is stopped with SIGTERM afterwards (killed when it has not ended within 30 s).
    """
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, env=bench_env(str(data_dir)), stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_ready(f"http://127.0.0.1:{port}/health", process, log_path, what, timeout)
        yield process.pid
    finally:
        stop_children([process], grace_seconds=30)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def command_cpu_seconds(command: str) -> float:
    """User + system CPU time so far of every process on this machine named ``command`` (e.g. ``postgres``:
    its backends, WAL writer and checkpointer), that this user may read; a process that ends meanwhile is skipped."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() == command:
                total += cpu_seconds(int(entry.name))
        except OSError:
            continue
    return total


def stop_children(processes: Sequence[subprocess.Popen[bytes]], grace_seconds: float) -> None:
    """SIGTERM to each, then wait for each; one still running after ``grace_seconds`` is killed."""
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=grace_seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def served_over_http(
    tmp: Path, server: str, section: dict[str, Any], name: str, timeout: float, data_dir: Path | None = None
) -> Iterator[tuple[str, int]]:
    """``mcp-suite serve SERVER --transport http`` with ``section`` as its settings; (MCP URL, pid) once ready.

    Its config is ``<tmp>/<name>.yaml``, its log ``<tmp>/<name>.log``, its data dir ``data_dir``
    (default ``<tmp>/data-<name>``).
    """
    port = free_port()
    config = tmp / f"{name}.yaml"
    config.write_text(yaml.safe_dump({server: {**section, "port": port}}))
    argv = cli("serve", server, "--transport", "http", "--port", str(port), "--config", str(config))
    place = data_dir or tmp / f"data-{name}"
    with ready_child(argv, port, place, tmp / f"{name}.log", f"the {server} server", timeout) as pid:
        yield f"http://127.0.0.1:{port}/mcp", pid
