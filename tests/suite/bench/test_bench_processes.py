"""The benches start the suite's processes with a clean environment and wait for them with deadlines."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from suite.bench.processes import (
    bench_env,
    cli,
    command_cpu_seconds,
    cpu_seconds,
    free_port,
    stop_children,
    wait_healthy,
    wait_ready,
)


def test_the_bench_environment_drops_every_mcp_suite_setting_and_sets_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCP_SUITE_GATEWAY__PORT", "1")
    monkeypatch.setenv("MCP_SUITE_CONFIG", "/elsewhere.yaml")
    env = bench_env("/tmp/bench-data")
    assert {k for k in env if k.startswith("MCP_SUITE_")} == {"MCP_SUITE_DATA_DIR", "MCP_SUITE_LOG_LEVEL"}
    assert env["MCP_SUITE_DATA_DIR"] == "/tmp/bench-data"


def test_the_command_line_runs_the_suite_in_this_interpreter() -> None:
    assert cli("serve", "memory") == [sys.executable, "-m", "suite.cli", "serve", "memory"]


def test_waiting_for_a_process_that_exited_fails_at_once_with_its_log(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_text("boom: the port is taken\n")
    process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    process.wait()
    with pytest.raises(RuntimeError, match=r"the demo server exited with 3: boom: the port is taken"):
        wait_ready(f"http://127.0.0.1:{free_port()}/health", process, log, "the demo server", timeout=60)


def test_waiting_for_a_silent_port_gives_up_at_its_deadline() -> None:
    with pytest.raises(RuntimeError, match=r"nothing did not answer .* within 0s"):
        wait_healthy(f"http://127.0.0.1:{free_port()}/health", "nothing", timeout=0.3)


def test_stopping_children_terminates_the_willing_and_kills_one_that_ignores_sigterm(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    stubborn = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import pathlib, signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "pathlib.Path(sys.argv[1]).touch(); time.sleep(60)",
            str(ready),
        ]
    )
    willing = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    while not ready.exists():  # the stubborn child ignores SIGTERM from here on
        assert stubborn.poll() is None
    stop_children([willing, stubborn], grace_seconds=0.5)
    assert willing.returncode == -signal.SIGTERM
    assert stubborn.returncode == -signal.SIGKILL


def test_the_cpu_of_a_command_sums_every_process_of_that_name() -> None:
    own = Path(f"/proc/{os.getpid()}/comm").read_text().strip()
    burnt = time.process_time()
    while time.process_time() - burnt < 0.05:  # at least 5 ticks of this process's own CPU
        pass
    mine = cpu_seconds(os.getpid())  # read first: this process keeps burning CPU while the others are read
    assert mine > 0.0
    assert command_cpu_seconds(own) >= mine
    assert command_cpu_seconds("no-such-command-here") == 0.0
