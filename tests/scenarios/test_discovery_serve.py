"""A server process started with registry consul registers itself, passes its check, and deregisters on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from tests.support.consul_double import ConsulDouble, eventually
from tests.support.upstreams import free_port

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[2]


async def test_a_served_server_registers_with_consul_passes_its_check_and_deregisters_on_sigterm(
    tmp_path: Path,
) -> None:
    double = ConsulDouble(acl_token="tok", run_checks=True)
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "CONSUL_HTTP_ADDR": double.address,
        "CONSUL_HTTP_TOKEN": "tok",
        "MCP_SUITE_REGISTRY__CONSUL__CHECK_INTERVAL_SECONDS": "1",
    }
    async with anyio.create_task_group() as tg:
        await double.start(tg)
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "suite.cli",
                "serve",
                "filesystem",
                str(tmp_path),
                "--transport",
                "http",
                "--port",
                str(port),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            await eventually(lambda: len(double.services) == 1, timeout=30, what="the server registered")
            (service,) = double.services.values()
            await eventually(
                lambda: service.check is not None and service.check.status == "passing", timeout=10, what="passing"
            )
            process.send_signal(signal.SIGTERM)
            code = await anyio.to_thread.run_sync(lambda: process.wait(timeout=30))
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        await double.stop()
    body = service.registered
    assert code in (0, -signal.SIGTERM)  # uvicorn re-raises the signal after its graceful shutdown
    assert (body["Name"], body["ID"], body["Port"]) == ("mcp-filesystem", f"mcp-filesystem-127.0.0.1-{port}", port)
    assert body["Tags"][:2] == ["mcp", "filesystem"]
    assert body["Meta"]["supervisor"] == "system" and body["Meta"]["transport"] == "streamable-http"
    assert body["Check"]["HTTP"] == f"http://127.0.0.1:{port}/health"
    assert body["Check"]["Interval"] == "1s"
    assert double.services == {}  # deregistered on the way out
    assert any(r.path == f"/v1/agent/service/deregister/{body['ID']}" and r.token == "tok" for r in double.requests)


async def test_a_served_server_registers_again_after_the_doubles_agent_restarts_without_its_state(
    tmp_path: Path,
) -> None:
    double = ConsulDouble(run_checks=True)  # restart_agent: a double of an agent that lost its data directory
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "CONSUL_HTTP_ADDR": double.address,
        "MCP_SUITE_REGISTRY__CONSUL__CHECK_INTERVAL_SECONDS": "1",
    }
    argv = [sys.executable, "-m", "suite.cli", "serve", "filesystem", str(tmp_path), "--transport", "http"]
    async with anyio.create_task_group() as tg:
        await double.start(tg)
        process = subprocess.Popen(
            [*argv, "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            await eventually(lambda: len(double.services) == 1, timeout=30, what="the server registered")
            await double.stop()
            (lost,) = double.restart_agent()
            await double.start(tg)
            await eventually(lambda: lost in double.services, timeout=10, what="registered again")
            again = double.services[lost]
            await eventually(
                lambda: again.check is not None and again.check.status == "passing", timeout=10, what="passing again"
            )
            process.send_signal(signal.SIGTERM)
            await anyio.to_thread.run_sync(lambda: process.wait(timeout=30))
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        await double.stop()
    assert double.services == {}  # deregistered on the way out, once
