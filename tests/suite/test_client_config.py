"""``mcp-suite client-config``: what it prints works when a client runs it, for the gateway and every server."""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from mcp import Client, StdioServerParameters

from suite.cli import main
from suite.client_config import build_entries, code_lines, mcp_suite_command
from suite.known import SERVER_MODULES
from suite.settings import load_suite_settings


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump({"log_level": "warning", "gateway": {"port": 18555}}), encoding="utf-8")
    return path


def desktop(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    code, out, err = run_cli(capsys, "client-config", "claude-desktop", *argv)
    assert code == 0, err
    body = json.loads(out)
    assert list(body) == ["mcpServers"]
    return dict(body["mcpServers"])


def test_claude_desktop_json_names_the_gateway_and_every_server_with_absolute_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = config_file(tmp_path)
    servers = desktop(capsys, "--config", str(config))
    assert set(servers) == {"mcp-suite", *(f"mcp-suite-{name}" for name in SERVER_MODULES)}
    for entry in servers.values():
        assert os.path.isabs(entry["command"]) and os.access(entry["command"], os.X_OK)
    fs = servers["mcp-suite-filesystem"]
    assert fs["args"][fs["args"].index("serve") + 1] == "filesystem"
    assert fs["args"][fs["args"].index("--config") + 1] == str(config.absolute())
    gateway = servers["mcp-suite"]
    assert gateway["args"][gateway["args"].index("gateway") :][:3] == ["gateway", "--transport", "stdio"]


def test_the_stdio_gateway_config_names_every_server_as_a_stdio_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], isolated_environment: Path
) -> None:
    config = config_file(tmp_path)
    gateway = desktop(capsys, "--config", str(config))["mcp-suite"]
    path = Path(gateway["args"][gateway["args"].index("--config") + 1])
    assert path.parent == isolated_environment / "client"
    settings = load_suite_settings(path)
    assert settings.log_level == "warning"  # the user's config travels with it
    assert set(settings.registry.static) == set(SERVER_MODULES)
    for name, (instance,) in settings.registry.static.items():
        assert instance.command is not None and os.path.isabs(instance.command)
        assert instance.args[instance.args.index("serve") + 1] == name
        assert instance.env["MCP_SUITE_DATA_DIR"] == str(isolated_environment)


@pytest.mark.anyio
async def test_the_printed_gateway_entry_runs_and_lists_every_servers_tools(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gateway = desktop(capsys, "--config", str(config_file(tmp_path)))["mcp-suite"]
    # Only what the entry names: a client like Claude Desktop passes no other environment.
    params = StdioServerParameters(command=gateway["command"], args=gateway["args"], env=gateway.get("env"))
    async with Client(params) as client:
        names = [tool.name for tool in (await client.list_tools()).tools]
    for server in SERVER_MODULES:
        assert any(name.startswith(f"{server}_") for name in names), names


@pytest.mark.anyio
async def test_a_printed_server_entry_runs_that_server_over_stdio(capsys: pytest.CaptureFixture[str]) -> None:
    entry = desktop(capsys, "--server", "filesystem")["mcp-suite-filesystem"]
    params = StdioServerParameters(command=entry["command"], args=entry["args"], env=entry.get("env"))
    async with Client(params) as client:
        names = [tool.name for tool in (await client.list_tools()).tools]
    assert "read_text_file" in names


def test_server_limits_the_output_to_one_entry(capsys: pytest.CaptureFixture[str]) -> None:
    assert list(desktop(capsys, "--server", "filesystem")) == ["mcp-suite-filesystem"]
    assert list(desktop(capsys, "--server", "gateway")) == ["mcp-suite"]


def test_an_unknown_server_is_refused_with_the_known_names(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "client-config", "claude-desktop", "--server", "nosuch")
    assert code == 2 and out == ""
    assert "unknown server 'nosuch'" in err and "filesystem" in err


def test_claude_code_prints_one_claude_mcp_add_line_per_entry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(capsys, "client-config", "claude-code", "--config", str(config_file(tmp_path)))
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == len(SERVER_MODULES) + 1
    names = []
    for line in lines:
        words = shlex.split(line)
        assert words[:5] == ["claude", "mcp", "add", "--transport", "stdio"]
        names.append(words[5])
        command = words[words.index("--") + 1 :]
        assert os.path.isabs(command[0])
        assert all(w.split("=", 1)[0].startswith("MCP_SUITE_") for w in words[6 : words.index("--")] if "=" in w)
    assert names == ["mcp-suite", *(f"mcp-suite-{name}" for name in SERVER_MODULES)]


def test_claude_code_over_http_points_at_the_running_gateway(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ("client-config", "claude-code", "--config", str(config_file(tmp_path)), "--gateway", "http")
    code, out, _ = run_cli(capsys, *argv, "--server", "gateway")
    assert code == 0
    assert out.strip() == "claude mcp add --transport http mcp-suite http://127.0.0.1:18555/mcp"
    code, out, _ = run_cli(capsys, *argv, "--json")
    body = json.loads(out)["mcpServers"]
    assert body["mcp-suite"] == {"type": "http", "url": "http://127.0.0.1:18555/mcp"}
    assert body["mcp-suite-filesystem"]["type"] == "stdio"


def test_claude_desktop_over_http_is_refused_with_what_to_do_instead(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "client-config", "claude-desktop", "--gateway", "http")
    assert code == 2 and out == ""
    assert "Connectors" in err and "--gateway stdio" in err


def test_without_a_config_file_the_commands_carry_no_config_flag() -> None:
    entries = build_entries(load_suite_settings(), ["filesystem"], config_file=None, only="filesystem", environ={})
    assert entries[0].argv[-2:] == ("serve", "filesystem")
    assert dict(entries[0].env) == {}


def test_only_mcp_suite_variables_are_carried_and_quoted_for_the_shell() -> None:
    environ = {"MCP_SUITE_LOG_LEVEL": "debug", "MCP_SUITE_CONFIG": "/x.yaml", "HOME": "/h", "SECRET": "s"}
    entries = build_entries(
        load_suite_settings(),
        ["filesystem"],
        config_file=None,
        only="filesystem",
        environ=environ,
        command=["/a b/mcp"],
    )
    assert dict(entries[0].env) == {"MCP_SUITE_LOG_LEVEL": "debug"}
    line = code_lines(entries)
    assert "'/a b/mcp'" in line and "--env MCP_SUITE_LOG_LEVEL=debug" in line


def test_the_mcp_suite_command_is_absolute() -> None:
    command = mcp_suite_command()
    assert os.path.isabs(command[0])
