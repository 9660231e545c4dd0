"""The launcher's parts: the plan (ports, command lines, gateway config), back-off, one child, the supervisor.

The supervisor tests run :class:`Launcher` in-process over tiny stand-in children (a few lines of Python
that answer ``GET /health``), so restart and stop behaviour is checked without the real suite; the real
suite is driven end to end in ``test_cli_up.py``.
"""

from __future__ import annotations

import os
import signal
import socket
import stat
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
import yaml

from gateway.settings import DEFAULT_PORTS
from suite.launcher.children import Backoff, Child, State, exit_description
from suite.launcher.plan import (
    ChildSpec,
    Plan,
    PlanError,
    build_plan,
    configured_port,
    gateway_config_data,
    parse_replicas,
    write_gateway_config,
)
from suite.launcher.process_supervisor import Launcher, launcher_snapshot
from suite.launcher.status_table import format_duration, render_rows, screen
from suite.settings import load_suite_settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_config(path: Path, **sections: object) -> Path:
    path.write_text(yaml.safe_dump(sections), encoding="utf-8")
    return path


def alive(pid: int) -> bool:
    """Running and not a zombie, read from /proc."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "State:\tZ" not in status


async def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await anyio.sleep(0.05)


# ---- the plan ------------------------------------------------------------------------------
def test_replicas_parse_server_equals_count() -> None:
    assert parse_replicas(["filesystem=2", "database=0"], ["filesystem", "database"]) == {
        "filesystem": 2,
        "database": 0,
    }


@pytest.mark.parametrize("value", ["filesystem", "filesystem=two", "nosuch=2", "filesystem=-1", "filesystem=99"])
def test_replicas_refuse_what_is_not_a_known_server_and_a_sane_count(value: str) -> None:
    with pytest.raises(PlanError):
        parse_replicas([value], ["filesystem"])


def test_a_server_without_a_settings_section_takes_the_suite_default_port() -> None:
    settings = load_suite_settings()
    assert configured_port(settings, "filesystem") == settings.filesystem.port
    assert configured_port(settings, "database") == DEFAULT_PORTS["database"]
    assert configured_port(settings, "newcomer") == 0


def test_the_first_replica_takes_the_configured_port_and_extra_ones_take_distinct_free_ports(tmp_path: Path) -> None:
    fs_port, gw_port = free_port(), free_port()
    config = write_config(tmp_path / "c.yaml", filesystem={"port": fs_port}, gateway={"port": gw_port})
    plan = build_plan(load_suite_settings(config), ["filesystem"], config_file=config, replicas={"filesystem": 3})
    ports = [spec.port for spec in plan.servers]
    assert [spec.name for spec in plan.servers] == ["filesystem-1", "filesystem-2", "filesystem-3"]
    assert ports[0] == fs_port
    assert len(set(ports)) == 3 and gw_port not in ports
    first = plan.servers[0].argv
    assert first[first.index("serve") + 1] == "filesystem"
    assert first[first.index("--port") + 1] == str(fs_port)
    assert first[first.index("--config") + 1] == str(config)
    assert plan.gateway.port == gw_port
    assert plan.gateway.argv[plan.gateway.argv.index("--config") + 1] == str(plan.gateway_config)


def test_servers_are_started_in_the_suite_order_then_newcomers_alphabetically(tmp_path: Path) -> None:
    settings = load_suite_settings(write_config(tmp_path / "c.yaml", gateway={"port": free_port()}))
    known = ["zeta", "filesystem", "alpha"]
    replicas = {"filesystem": 0}  # keep the real filesystem port out of this test
    plan = build_plan(settings, known, config_file=None, replicas=replicas)
    assert [spec.server for spec in plan.servers] == ["alpha", "zeta"]
    assert all("--config" not in spec.argv for spec in plan.servers)


def test_a_port_already_in_use_is_refused_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        config = write_config(tmp_path / "c.yaml", filesystem={"port": port}, gateway={"port": free_port()})
        with pytest.raises(PlanError, match=f"filesystem-1 wants 127.0.0.1:{port}"):
            build_plan(load_suite_settings(config), ["filesystem"], config_file=config)


def test_the_gateway_config_keeps_the_users_keys_and_other_registry_entries() -> None:
    user: dict[str, Any] = {
        "log_level": "debug",
        "registry": {"static": {"filesystem": [{"url": "http://old:1/mcp"}], "extra": {"url": "http://x:2/mcp"}}},
    }
    spec = ChildSpec("filesystem-1", "filesystem", "127.0.0.1", 9001, (), Path("/dev/null"))
    spec2 = ChildSpec("filesystem-2", "filesystem", "127.0.0.1", 9002, (), Path("/dev/null"))
    data = gateway_config_data(user, [spec, spec2])
    assert data["log_level"] == "debug"
    assert data["registry"]["static"]["filesystem"] == [
        {"url": "http://127.0.0.1:9001/mcp"},
        {"url": "http://127.0.0.1:9002/mcp"},
    ]
    assert data["registry"]["static"]["extra"] == {"url": "http://x:2/mcp"}
    assert user["registry"]["static"]["filesystem"] == [{"url": "http://old:1/mcp"}]  # not mutated


def test_the_generated_gateway_config_loads_and_only_its_owner_can_read_it(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.yaml", filesystem={"port": free_port()}, gateway={"port": free_port()})
    plan = build_plan(load_suite_settings(config), ["filesystem"], config_file=config)
    path = write_gateway_config(plan)
    loaded = load_suite_settings(path)
    assert [i.url for i in loaded.registry.static["filesystem"]] == [plan.servers[0].mcp_url]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


# ---- back-off and one child ----------------------------------------------------------------
def test_backoff_doubles_from_half_a_second_to_thirty_and_resets_after_a_minute_up() -> None:
    backoff = Backoff()
    delays = [backoff.next_delay(uptime=1.0) for _ in range(9)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    assert backoff.next_delay(uptime=61.0) == 0.5
    assert backoff.next_delay(uptime=1.0) == 1.0


def test_a_child_reports_its_exit_code_and_the_tail_of_its_stderr(tmp_path: Path) -> None:
    script = "import sys; print('first run', file=sys.stderr); sys.exit(3)"
    spec = ChildSpec("x-1", "x", "127.0.0.1", 1, (sys.executable, "-c", script), tmp_path / "x.log")
    child = Child(spec)
    child.spawn(os.environ)
    child.process.wait(timeout=30)  # type: ignore[union-attr]
    assert child.poll() == 3
    assert child.pid is None
    assert child.stderr_tail() == ["first run"]
    child.spawn(os.environ)  # the tail covers the latest process only
    child.process.wait(timeout=30)  # type: ignore[union-attr]
    assert child.stderr_tail() == ["first run"]
    assert (tmp_path / "x.log").read_text().count("first run") == 2


def test_exit_descriptions_name_the_signal() -> None:
    assert exit_description(3) == "exit code 3"
    assert exit_description(-9) == "killed by SIGKILL"


# ---- the status table ----------------------------------------------------------------------
def test_the_table_shows_name_pid_port_state_restarts_and_uptime() -> None:
    rows: list[dict[str, Any]] = [
        {"name": "filesystem-1", "pid": 42, "port": 8501, "state": "ready", "restarts": 2, "uptime_seconds": 75.0},
        {
            "name": "gateway",
            "pid": None,
            "port": 8500,
            "state": "backoff",
            "restarts": 1,
            "uptime_seconds": 0,
            "restart_in_seconds": 1.5,
        },
    ]
    lines = render_rows(rows, color=False)
    assert lines[0].split() == ["NAME", "PID", "PORT", "STATE", "RESTARTS", "UPTIME"]
    assert lines[1].split() == ["filesystem-1", "42", "8501", "ready", "2", "1m15s"]
    assert lines[2].split() == ["gateway", "-", "8500", "backoff", "1.5s", "1", "-"]
    full = screen(rows, gateway_url="http://127.0.0.1:8500/mcp", events=["e1"], stopping=False, color=True)
    assert any("\x1b[32m" in line for line in full)  # ready is green on a terminal
    assert full[-1] == "  e1"


def test_durations_read_as_seconds_minutes_hours() -> None:
    assert [format_duration(s) for s in (5, 65, 3725)] == ["5s", "1m05s", "1h02m"]


# ---- the supervisor over stand-in children --------------------------------------------------
STAND_IN = textwrap.dedent(
    """
    import http.server, signal, sys
    port, ignore_term = int(sys.argv[1]), sys.argv[2] == "stubborn"
    if ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path in ("/health", "/ready") else 404)
            self.end_headers()
        def log_message(self, *args):
            pass
    print("stand-in up on", port, file=sys.stderr, flush=True)
    http.server.HTTPServer(("127.0.0.1", port), Health).serve_forever()
    """
)


def stand_in_plan(tmp_path: Path, server_mode: str = "polite") -> Plan:
    script = tmp_path / "stand_in.py"
    script.write_text(STAND_IN)

    def spec(name: str, server: str, mode: str) -> ChildSpec:
        port = free_port()
        argv = (sys.executable, str(script), str(port), mode)
        return ChildSpec(name, server, "127.0.0.1", port, argv, tmp_path / f"{name}.log")

    run_dir = tmp_path / "run"
    return Plan(
        (spec("demo-1", "demo", server_mode),), spec("gateway", "gateway", "polite"), run_dir, run_dir / "g.yaml", None
    )


@pytest.mark.anyio
async def test_a_crashed_child_comes_back_on_its_port_and_stop_leaves_nothing_running(tmp_path: Path) -> None:
    plan = stand_in_plan(tmp_path)
    launcher = Launcher(plan, env=os.environ, grace_seconds=5.0)
    async with anyio.create_task_group() as tg:
        tg.start_soon(launcher.run)
        await wait_for(lambda: all(c.state == State.READY for c in launcher.children), 30, "both children ready")
        server = launcher.servers[0]
        first_pid = server.pid
        assert first_pid is not None
        os.kill(first_pid, signal.SIGKILL)
        await wait_for(lambda: server.restarts == 1 and server.state == State.READY, 30, "the restart")
        assert server.pid != first_pid
        assert server.last_exit == -9
        await wait_for(lambda: launcher_snapshot(plan.state_file) is not None, 5, "the state file")
        state = launcher_snapshot(plan.state_file)
        assert state is not None and state["pid"] == os.getpid()
        assert {row["name"]: row["port"] for row in state["children"]}["demo-1"] == plan.servers[0].port
        pids = [c.pid for c in launcher.children]
        launcher.request_stop("test")
    assert all(p is not None and not alive(p) for p in pids)
    assert [c.state for c in launcher.children] == [State.STOPPED, State.STOPPED]
    assert not plan.state_file.exists()


@pytest.mark.anyio
async def test_a_child_that_ignores_sigterm_is_killed_after_the_grace_period(tmp_path: Path) -> None:
    plan = stand_in_plan(tmp_path, server_mode="stubborn")
    launcher = Launcher(plan, env=os.environ, grace_seconds=0.5)
    async with anyio.create_task_group() as tg:
        tg.start_soon(launcher.run)
        await wait_for(lambda: all(c.state == State.READY for c in launcher.children), 30, "both children ready")
        stubborn = launcher.servers[0]
        pid = stubborn.pid
        launcher.request_stop("test")
    assert pid is not None and not alive(pid)
    assert stubborn.last_exit == -signal.SIGKILL
    assert launcher.gateway.last_exit == -signal.SIGTERM
