"""The server definition: command-line directories, the default root, readiness, and the runtime contract."""

from __future__ import annotations

from pathlib import Path

import pytest

from servers.filesystem.server import DEFINITION, apply_arguments, readiness
from suite.known import load_definition
from suite.settings import SuiteSettings
from tests.servers.filesystem.support import connect, data, settings_for


def test_the_runtime_finds_the_filesystem_definition() -> None:
    assert load_definition("filesystem") is DEFINITION
    assert DEFINITION.port_of(SuiteSettings()) == 8501


def test_command_line_directories_replace_the_configured_roots_with_their_modes(tmp_path: Path) -> None:
    first, second, third = (tmp_path / name for name in ("a", "b", "c:d"))
    for path in (first, second, third):
        path.mkdir()
    configured = settings_for(tmp_path / "data", (tmp_path, "rw"))
    updated = apply_arguments(configured, [str(first), f"{second}:ro", f"{third}:rw"])
    roots = [(root.path, root.mode) for root in updated.filesystem.roots]
    assert roots == [(first, "rw"), (second, "ro"), (third, "rw")]
    assert apply_arguments(configured, []) is configured


def test_a_missing_directory_on_the_command_line_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        apply_arguments(SuiteSettings(), [str(tmp_path / "missing")])


@pytest.mark.anyio
async def test_with_no_roots_configured_the_server_uses_a_files_directory_in_the_data_dir(tmp_path: Path) -> None:
    settings = SuiteSettings(data_dir=tmp_path / "data")
    async with connect(settings) as client:
        allowed = data(await client.call_tool("list_allowed_directories", {}))
        data(await client.call_tool("write_file", {"path": "hello.txt", "content": "hi"}))
    files = settings.data_dir / "files"
    assert [(d["path"], d["mode"]) for d in allowed["directories"]] == [(str(files.resolve()), "rw")]
    assert (files / "hello.txt").read_text(encoding="utf-8") == "hi"


@pytest.mark.anyio
async def test_readiness_checks_every_root(tmp_path: Path) -> None:
    present = tmp_path / "present"
    present.mkdir()
    good = await readiness(settings_for(tmp_path / "data", (present, "ro")))
    bad = await readiness(settings_for(tmp_path / "data", (present, "ro"), (tmp_path / "absent", "rw")))
    assert good.ready and good.checks[f"root {present}"] == "ok (ro)"
    assert not bad.ready and "missing" in bad.checks[f"root {tmp_path / 'absent'}"]


@pytest.mark.anyio
async def test_every_tool_has_complete_annotations_and_an_output_schema(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    async with connect(settings_for(tmp_path / "data", (root, "rw"))) as client:
        tools = (await client.list_tools()).tools
    assert len(tools) == 16
    for tool in tools:
        hints = tool.annotations
        assert hints is not None, tool.name
        assert hints.read_only_hint is not None and hints.destructive_hint is not None, tool.name
        assert hints.idempotent_hint is not None and hints.open_world_hint is False, tool.name
        assert tool.output_schema is not None, tool.name
        for name, schema in tool.input_schema.get("properties", {}).items():
            assert schema.get("description"), f"{tool.name}.{name} has no description"
        assert "client_roots" not in tool.input_schema.get("properties", {})
        assert "ctx" not in tool.input_schema.get("properties", {})
