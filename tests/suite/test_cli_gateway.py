"""``mcp-suite gateway --transport stdio`` without a registry serves the suite as ``client-config`` sets it up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from mcp import Client, StdioServerParameters

from suite.cli import main
from suite.known import SERVER_MODULES
from tests.support.node_tools import inspector_cli_command, node_env


def stdio_gateway(*words: str) -> StdioServerParameters:
    args = ["-m", "suite.cli", "gateway", "--transport", "stdio", *words]
    # The defaults, as a user has them: the first listing must see every server, however slowly it starts.
    return StdioServerParameters(command=sys.executable, args=args, env=dict(os.environ))


@pytest.mark.anyio
async def test_a_stdio_gateway_without_a_config_serves_every_server_of_the_suite(isolated_environment: Path) -> None:
    assert not Path("mcp-suite.yaml").exists() and "MCP_SUITE_CONFIG" not in os.environ
    async with Client(stdio_gateway(), mode="legacy") as client:
        names = [tool.name for tool in (await client.list_tools()).tools]
    for server in SERVER_MODULES:
        assert any(name.startswith(f"{server}_") for name in names), names


@pytest.mark.anyio
async def test_a_stdio_gateway_whose_config_names_a_registry_serves_only_that(
    tmp_path: Path, isolated_environment: Path
) -> None:
    config = tmp_path / "only-filesystem.yaml"
    argv = ["-m", "suite.cli", "serve", "filesystem", str(tmp_path)]
    config.write_text(
        yaml.safe_dump({"registry": {"static": {"filesystem": [{"command": sys.executable, "args": argv}]}}}),
        encoding="utf-8",
    )
    async with Client(stdio_gateway("--config", str(config)), mode="legacy") as client:
        names = [tool.name for tool in (await client.list_tools()).tools]
    assert "filesystem_read_text_file" in names
    assert not any(name.startswith("database_") for name in names)


def test_an_http_gateway_without_a_registry_still_only_warns(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[object] = []
    monkeypatch.setattr("gateway.door.transports.run_gateway", lambda *args, **kwargs: started.append(kwargs))
    assert main(["gateway", "--transport", "http", "--port", "0"]) == 0
    assert started and "the registry names no upstream server" in capsys.readouterr().err


def test_the_inspector_cli_line_of_the_docs_lists_every_servers_tools(isolated_environment: Path) -> None:
    # docs/launcher.md: `mcp-inspector --cli --method tools/list -- mcp-suite gateway --transport stdio`.
    # Without `--` the Inspector takes `--transport stdio` for itself and the gateway starts over HTTP.
    # The Inspector passes the server only the variables given with -e.
    passed = {"MCP_SUITE_DATA_DIR": str(isolated_environment)}
    variables = [word for key, value in passed.items() for word in ("-e", f"{key}={value}")]
    command = [*inspector_cli_command(), *variables, "--connect-timeout", "60000", "--method", "tools/list"]
    suite = [sys.executable, "-m", "suite.cli", "gateway", "--transport", "stdio"]
    done = subprocess.run(
        [*command, "--", *suite], capture_output=True, text=True, env=node_env(), timeout=180, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    names = [tool["name"] for tool in json.loads(done.stdout)["tools"]]
    for server in SERVER_MODULES:
        assert any(name.startswith(f"{server}_") for name in names), names
