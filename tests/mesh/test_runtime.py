"""The serving processes run on uvloop when it is installed, on asyncio when told, and say so when uvloop is missing."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mesh import runtime
from mesh.config import ConfigError
from suite.cli import main


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def _hide_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> object:
        return None if name == "uvloop" else real(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


def test_auto_runs_on_uvloop_when_it_is_installed() -> None:
    assert runtime.run("auto", _loop_module).startswith("uvloop")


def test_asyncio_keeps_the_standard_loop() -> None:
    assert runtime.run("asyncio", _loop_module).startswith("asyncio")


def test_auto_falls_back_to_asyncio_without_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    _hide_uvloop(monkeypatch)
    assert runtime.run("auto", _loop_module).startswith("asyncio")


def test_asking_for_uvloop_without_it_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    _hide_uvloop(monkeypatch)
    with pytest.raises(ConfigError, match="uvloop is not installed"):
        runtime.run("uvloop", _loop_module)


def test_serve_refuses_to_start_when_uvloop_is_required_but_missing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _hide_uvloop(monkeypatch)
    monkeypatch.setenv("MCP_SUITE_EVENT_LOOP", "uvloop")
    assert main(["serve", "filesystem", "--transport", "http", "--port", "0"]) == 2
    error = capsys.readouterr().err
    assert "uvloop is not installed" in error and "MCP_SUITE_EVENT_LOOP" in error


def test_an_unknown_event_loop_name_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MCP_SUITE_EVENT_LOOP", "trio")
    assert main(["serve", "filesystem", "--transport", "http", "--port", "0"]) == 2
    assert "event_loop" in capsys.readouterr().err


def test_freezing_exempts_the_startup_heap_yet_later_cycles_are_still_collected() -> None:
    script = (
        "import gc\n"
        "from mesh.runtime import freeze_startup_heap\n"
        "frozen = freeze_startup_heap()\n"
        "class Node: pass\n"
        "node = Node(); node.me = node; del node\n"
        "print(frozen, gc.get_freeze_count(), gc.collect())\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    frozen, counted, collected = (int(word) for word in done.stdout.split())
    assert frozen > 1000 and counted == frozen
    assert collected >= 1  # the cycle made after the freeze


def test_a_served_process_freezes_its_heap_before_it_serves(tmp_path: Path) -> None:
    env = {**os.environ, "MCP_SUITE_LOG_LEVEL": "debug", "MCP_SUITE_DATA_DIR": str(tmp_path / "data")}
    argv = [
        sys.executable,
        "-m",
        "suite.cli",
        "serve",
        "filesystem",
        str(tmp_path),
        "--transport",
        "http",
        "--port",
        "0",
    ]
    with subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True) as process:
        try:
            assert process.stderr is not None
            frozen = None
            for line in process.stderr:  # ends when the process exits; the line comes before "listening" is served
                entry = json.loads(line) if line.startswith("{") else {}
                if entry.get("msg") == "startup heap frozen":
                    frozen = entry["objects"]
                    break
        finally:
            process.terminate()
            process.wait(timeout=30)
    assert frozen is not None and frozen > 10_000
