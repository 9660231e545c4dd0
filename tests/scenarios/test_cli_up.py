"""``mcp-suite up`` end to end: a real launcher process, real server children, the real gateway.

Every test moves the ports to free ones with a config file and runs in the temporary data directory
of the autouse fixture. Children are found through ``/proc`` by the test's unique paths on their
command lines, so an orphan would be seen even after it was re-parented.
"""

from __future__ import annotations

import contextlib
import json
import os
import pty
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import yaml
from mcp import Client

from mesh.config import Settings
from suite.known import SERVER_MODULES

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def processes_mentioning(*markers: str) -> list[int]:
    """Live (non-zombie) processes whose command line contains one of ``markers``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            status = (entry / "status").read_text()
        except OSError:
            continue
        if "State:\tZ" not in status and any(marker in cmdline for marker in markers):
            found.append(int(entry.name))
    return found


def wait_until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = condition()
        except (OSError, httpx.HTTPError, ValueError, KeyError):
            result = None
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.1)


@dataclass
class Up:
    """One running ``mcp-suite up`` and what the test needs to look at it."""

    process: subprocess.Popen[bytes]
    config: Path
    data_dir: Path
    base_url: str
    stderr_path: Path
    output: bytearray = field(default_factory=bytearray)

    @property
    def markers(self) -> tuple[str, str]:
        return (str(self.config), str(self.data_dir / "run"))

    def state(self) -> dict[str, Any]:
        return dict(json.loads((self.data_dir / "run" / "launcher.json").read_text()))

    def child(self, name: str) -> dict[str, Any]:
        return next(row for row in self.state()["children"] if row["name"] == name)

    def instances(self) -> dict[str, Any]:
        return dict(httpx.get(f"{self.base_url}/v1/instances", timeout=2).json())

    def serving(self, server: str) -> int:
        pools = [p for p in self.instances()["servers"] if p["server"] == server]
        return sum(1 for p in pools for i in p["instances"] if i["serving"])

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def wait_ready(self, replicas: dict[str, int] | None = None) -> None:
        counts = {name: (replicas or {}).get(name, 1) for name in SERVER_MODULES}
        for server, count in counts.items():

            def serving_all(server: str = server, count: int = count) -> bool:
                return self.serving(server) == count

            wait_until(serving_all, 60, f"{count} serving {server} instance(s)")

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        self.process.send_signal(sig)
        return self.process.wait(timeout=60)


def write_suite_config(path: Path) -> Path:
    """Every configurable port moved to a free one; a short grace and refresh so tests stay quick."""
    data: dict[str, Any] = {
        "gateway": {"port": free_port(), "refresh_interval_seconds": 0.5},
        "shutdown_grace_seconds": 3,
    }
    for server in SERVER_MODULES:
        if server in Settings.model_fields:
            data[server] = {"port": free_port()}
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@contextlib.contextmanager
def running_up(tmp_path: Path, data_dir: Path, *args: str, tty: bool = False) -> Iterator[Up]:
    config = write_suite_config(tmp_path / "suite.yaml")
    port = yaml.safe_load(config.read_text())["gateway"]["port"]
    stderr_path = tmp_path / "up.stderr"
    argv = [sys.executable, "-m", "suite.cli", "up", "--config", str(config), *args]
    env = {**os.environ, "TERM": "xterm"}
    reader: threading.Thread | None = None
    with open(stderr_path, "wb") as stderr:
        if tty:
            master, slave = pty.openpty()
            process = subprocess.Popen(argv, stdout=slave, stderr=stderr, env=env, start_new_session=True)
            os.close(slave)
        else:
            process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=stderr, env=env)
    up = Up(process, config, data_dir, f"http://127.0.0.1:{port}", stderr_path)
    if tty:

        def drain() -> None:
            with contextlib.suppress(OSError):
                while chunk := os.read(master, 65536):
                    up.output.extend(chunk)
            os.close(master)

        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
    try:
        yield up
    finally:
        if process.poll() is None:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=30)
        for pid in processes_mentioning(*up.markers):  # never leave a test's process behind
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        if reader is not None:
            reader.join(timeout=5)


async def tool_names(url: str) -> list[str]:
    async with Client(url) as client:
        return [tool.name for tool in (await client.list_tools()).tools]


async def call_succeeds(url: str, tool: str) -> bool:
    try:
        async with Client(url) as client:
            return not (await client.call_tool(tool, {})).is_error
    except Exception:
        return False


@pytest.mark.anyio
async def test_up_serves_every_known_server_through_the_gateway(tmp_path: Path, isolated_environment: Path) -> None:
    with running_up(tmp_path, isolated_environment) as up:
        await anyio.to_thread.run_sync(up.wait_ready)
        names = await tool_names(f"{up.base_url}/mcp")
        for server in SERVER_MODULES:
            assert any(name.startswith(f"{server}_") for name in names), f"no {server}_* tool in {names}"
        assert "filesystem_read_text_file" in names
        status = subprocess.run(
            [sys.executable, "-m", "suite.cli", "status", "--config", str(up.config)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert status.returncode == 0, status.stderr
        assert "filesystem" in status.stdout and "serving" in status.stdout
        assert "filesystem-1" in status.stdout  # the launcher's process table
        events = [json.loads(line) for line in up.stderr().splitlines() if line.startswith("{")]
        assert any(e["msg"] == "suite ready" for e in events)


@pytest.mark.anyio
async def test_sigterm_to_up_stops_every_child_and_leaves_no_process_alive(
    tmp_path: Path, isolated_environment: Path
) -> None:
    with running_up(tmp_path, isolated_environment) as up:
        await anyio.to_thread.run_sync(up.wait_ready)
        pids = [row["pid"] for row in up.state()["children"]]
        assert len(pids) == len(SERVER_MODULES) + 1 and all(pids)
        assert await anyio.to_thread.run_sync(up.stop) == 0
        assert processes_mentioning(*up.markers) == []
        assert not any(Path(f"/proc/{pid}").exists() for pid in pids)
        assert not (isolated_environment / "run" / "launcher.json").exists()
        assert '"every child stopped"' in up.stderr()


@pytest.mark.anyio
async def test_a_server_killed_with_sigkill_comes_back_on_the_same_port_and_is_served_again(
    tmp_path: Path, isolated_environment: Path
) -> None:
    with running_up(tmp_path, isolated_environment) as up:
        await anyio.to_thread.run_sync(up.wait_ready)
        before = up.child("filesystem-1")
        os.kill(before["pid"], signal.SIGKILL)

        def restarted() -> bool:
            row = up.child("filesystem-1")
            return bool(row["pid"] not in (None, before["pid"]) and row["state"] == "ready")

        await anyio.to_thread.run_sync(lambda: wait_until(restarted, 30, "the filesystem child to come back"))
        after = up.child("filesystem-1")
        assert after["port"] == before["port"]
        assert after["restarts"] == 1
        assert before["pid"] not in processes_mentioning(*up.markers)
        deadline = time.monotonic() + 30
        while not await call_succeeds(f"{up.base_url}/mcp", "filesystem_list_allowed_directories"):
            assert time.monotonic() < deadline, "the gateway never served the restarted server"
            await anyio.sleep(0.2)
        exited = [json.loads(line) for line in up.stderr().splitlines() if '"exited (' in line]
        assert exited and exited[0]["child"] == "filesystem-1" and exited[0]["exit"] == -9
        assert isinstance(exited[0]["stderr_tail"], list)


@pytest.mark.anyio
async def test_replicas_run_two_filesystem_instances_behind_the_gateway(
    tmp_path: Path, isolated_environment: Path
) -> None:
    with running_up(tmp_path, isolated_environment, "--replicas", "filesystem=2") as up:
        await anyio.to_thread.run_sync(lambda: up.wait_ready({"filesystem": 2}))
        pool = next(p for p in up.instances()["servers"] if p["server"] == "filesystem")
        addresses = sorted(i["address"] for i in pool["instances"])
        assert len(addresses) == 2 and len(set(addresses)) == 2
        ports = {row["name"]: row["port"] for row in up.state()["children"]}
        assert {
            f"http://127.0.0.1:{ports['filesystem-1']}/mcp",
            f"http://127.0.0.1:{ports['filesystem-2']}/mcp",
        } == set(addresses)


@pytest.mark.anyio
async def test_on_a_terminal_up_draws_the_live_table_and_ctrl_c_stops_everything(
    tmp_path: Path, isolated_environment: Path
) -> None:
    with running_up(tmp_path, isolated_environment, tty=True) as up:
        await anyio.to_thread.run_sync(up.wait_ready)
        await anyio.to_thread.run_sync(lambda: wait_until(lambda: b"suite ready" in up.output, 30, "the table"))
        screen = up.output.decode(errors="replace")
        assert "NAME" in screen and "RESTARTS" in screen and "UPTIME" in screen
        assert "filesystem-1" in screen and "\x1b[" in screen
        assert up.stderr() == ""  # on a terminal the launcher's log goes to a file
        assert (isolated_environment / "logs" / "launcher.log").read_text().count("suite ready") == 1
        os.killpg(up.process.pid, signal.SIGINT)  # what Ctrl-C does: the terminal's foreground group
        assert await anyio.to_thread.run_sync(lambda: up.process.wait(timeout=60)) == 0
        assert processes_mentioning(*up.markers) == []
        assert "stopping" in up.output.decode(errors="replace")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
@pytest.mark.anyio
async def test_children_die_with_a_launcher_killed_by_sigkill(tmp_path: Path, isolated_environment: Path) -> None:
    with running_up(tmp_path, isolated_environment) as up:
        await anyio.to_thread.run_sync(up.wait_ready)
        children = [row["pid"] for row in up.state()["children"]]
        up.process.kill()
        up.process.wait(timeout=30)
        await anyio.to_thread.run_sync(
            lambda: wait_until(lambda: not processes_mentioning(*up.markers), 30, "the children to die")
        )
        assert not any(pid in processes_mentioning(*up.markers) for pid in children)


def test_up_refuses_a_busy_port_with_exit_status_2_and_starts_nothing(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        config = tmp_path / "busy.yaml"
        config.write_text(yaml.safe_dump({"gateway": {"port": port}, "filesystem": {"port": free_port()}}))
        result = subprocess.run(
            [sys.executable, "-m", "suite.cli", "up", "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert f"gateway wants 127.0.0.1:{port}" in result.stderr
    assert "is another `mcp-suite up` running?" in result.stderr
    assert processes_mentioning(str(config)) == []


def test_up_refuses_an_unknown_replica_server_with_exit_status_2(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "suite.cli", "up", "--replicas", "nosuch=2"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "unknown server 'nosuch'" in result.stderr
