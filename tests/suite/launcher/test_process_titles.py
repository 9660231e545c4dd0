"""Each child of ``mcp-suite up`` shows in ``ps`` by its name: ``mcp-suite filesystem-1``, ``mcp-suite gateway``."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import yaml

from suite.known import SERVER_MODULES
from suite.launcher.children import Child
from suite.launcher.plan import build_plan, write_gateway_config
from suite.process_title import TITLE_ENV
from suite.settings import load_suite_settings


def command_line(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").replace(b"\0", b" ").decode()


def ps_args(pid: int) -> str:
    return subprocess.run(["ps", "-o", "args=", "-p", str(pid)], capture_output=True, text=True, check=True).stdout


def wait_answering(url: str, child: Child, timeout: float = 60.0) -> None:
    """Until ``url`` answers at all (the child is serving, so past its start-up); fails if the child exits."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=1.0) as client:
        while True:
            assert child.poll() is None, child.stderr_tail()
            try:
                client.get(url)
                return
            except httpx.TransportError:
                assert time.monotonic() < deadline, f"{url} never answered"
                assert child.process is not None
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.process.wait(timeout=0.1)  # wakes early if the child dies


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="reads /proc (Linux)")
def test_the_launchers_children_show_their_names_in_ps(tmp_path: Path) -> None:
    root = tmp_path / "files"
    root.mkdir()
    config = tmp_path / "mcp-suite.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "data_dir": str(tmp_path / "data"),
                "filesystem": {"port": 0, "roots": [{"path": str(root), "mode": "ro"}]},
                "gateway": {"port": 0},
            }
        ),
        encoding="utf-8",
    )
    settings = load_suite_settings(str(config))
    plan = build_plan(settings, [name for name in SERVER_MODULES if name == "filesystem"], config_file=config)
    write_gateway_config(plan)
    children = [Child(plan.children[0]), Child(plan.gateway)]
    env = {key: value for key, value in os.environ.items() if key != TITLE_ENV}
    try:
        for child in children:
            child.spawn(env)
        for child in children:
            wait_answering(child.spec.health_url, child)
        pids = [child.pid for child in children]
        assert None not in pids
        assert [command_line(pid) for pid in pids if pid] == ["mcp-suite filesystem-1", "mcp-suite gateway"]
        assert [ps_args(pid).strip() for pid in pids if pid] == ["mcp-suite filesystem-1", "mcp-suite gateway"]
    finally:
        for child in children:
            child.signal(signal.SIGTERM)
        for child in children:
            if child.process is not None:
                child.process.wait(timeout=30)
