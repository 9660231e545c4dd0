"""The filesystem server's tool errors start with their stable code, over stdio and in memory."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters

from servers.kit.paths.policy import Policy
from tests.servers.filesystem.support import connect, settings_for, text_of

# What a client sends, and how the error it gets back must start.
FAILURES = [
    ("read_text_file", {"path": "missing.txt"}, "not_found: "),
    ("read_text_file", {"path": "../outside/secret.txt"}, "outside_roots: "),
    ("read_text_file", {"path": ".env"}, "denied: "),
    ("read_text_file", {"path": "notes.txt", "head": 0}, "invalid_arguments: head: "),
    ("read_text_file", {}, "invalid_arguments: path: Field required"),
    ("no_such_tool", {}, "unknown_tool: "),
]


@pytest.mark.anyio
async def test_every_failure_over_stdio_starts_with_its_code(root: Path, outside: Path) -> None:
    server = StdioServerParameters(
        command=sys.executable, args=["-m", "suite.cli", "serve", "filesystem", str(root)], env=dict(os.environ)
    )
    async with Client(server, mode="auto") as client:
        results = [await client.call_tool(tool, arguments) for tool, arguments, _ in FAILURES]
    for (tool, _, start), result in zip(FAILURES, results, strict=True):
        assert result.is_error and text_of(result).startswith(start), (tool, text_of(result))


@pytest.mark.anyio
@pytest.mark.parametrize(("tool", "arguments", "start"), FAILURES, ids=[start for _, _, start in FAILURES])
async def test_a_failure_in_memory_starts_with_its_code(
    root: Path, outside: Path, tmp_path: Path, mode: str, tool: str, arguments: dict[str, Any], start: str
) -> None:
    before = sorted(p.name for p in root.rglob("*"))
    async with connect(settings_for(tmp_path / "data", (root, "rw")), mode) as client:
        result = await client.call_tool(tool, arguments)
    assert result.is_error and text_of(result).startswith(start), text_of(result)
    assert sorted(p.name for p in root.rglob("*")) == before


@pytest.mark.anyio
async def test_a_crash_inside_a_tool_is_an_internal_error_without_its_text(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"internals of {root} and a token abc123")

    monkeypatch.setattr(Policy, "resolve", broken)
    async with connect(settings_for(tmp_path / "data", (root, "rw")), "legacy") as client:
        result = await client.call_tool("read_text_file", {"path": "notes.txt"})
    text = text_of(result)
    assert result.is_error and text.startswith("internal_error: the tool `read_text_file` failed unexpectedly")
    assert "abc123" not in text and "Traceback" not in text and str(root) not in text
