"""The floors of the house hold: mesh/ knows no server and no gateway, servers stand alone, the gateway reaches servers over MCP only."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.settings import SERVER_NAMES

ROOT = Path(__file__).resolve().parents[1]
SHARED_BY_SERVERS = ("kit", "runtime")


def modules(package: str) -> Iterator[tuple[str, ast.Module]]:
    for path in sorted((ROOT / package).rglob("*.py")):
        yield str(path.relative_to(ROOT)), ast.parse(path.read_text(encoding="utf-8"))


def imported(tree: ast.Module) -> Iterator[str]:
    """Every module an ``import`` or ``from ... import`` names, at any depth (lazy imports included)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def violations(package: str, allowed: object) -> list[str]:
    found = []
    for path, tree in modules(package):
        for name in imported(tree):
            reason = allowed(path, name)  # type: ignore[operator]
            if reason:
                found.append(f"{path}: imports {name} ({reason})")
    return found


def mesh_rule(path: str, name: str) -> str | None:
    return "mesh/ imports no upper floor" if name.split(".")[0] in ("servers", "gateway", "suite") else None


def server_rule(path: str, name: str) -> str | None:
    top = name.split(".")
    if top[0] in ("gateway", "suite"):
        return "a server imports no gateway and no command line"
    if top[0] == "servers" and len(top) > 1:
        own = path.split("/")[1]
        if top[1] not in (own, *SHARED_BY_SERVERS):
            return "a server never imports another server"
    return None


def gateway_rule(path: str, name: str) -> str | None:
    return "the gateway reaches servers over MCP only" if name.split(".")[0] in ("servers", "suite") else None


@pytest.mark.parametrize(
    ("package", "rule"), [("mesh", mesh_rule), ("servers", server_rule), ("gateway", gateway_rule)]
)
def test_no_floor_imports_what_it_may_not(package: str, rule: object) -> None:
    assert violations(package, rule) == []


def test_the_rules_catch_a_forbidden_import() -> None:
    assert mesh_rule("mesh/x.py", "servers.kit.cursors")
    assert server_rule("servers/filesystem/x.py", "servers.database.errors")
    assert server_rule("servers/kit/x.py", "gateway.settings")
    assert server_rule("servers/filesystem/x.py", "servers.kit.cursors") is None
    assert gateway_rule("gateway/call/x.py", "servers.runtime.serve")


def test_no_module_of_the_ground_floor_names_a_server() -> None:
    named = []
    for path, tree in modules("mesh"):
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in SERVER_NAMES:
                named.append(f"{path}:{node.lineno}: {node.value!r}")
    # The in-process rate-limit store is called "memory"; it is not the memory server.
    assert [
        entry for entry in named if not entry.startswith("mesh/security/settings.py") or "memory" not in entry
    ] == []


def test_only_the_command_line_package_loads_a_server_by_name() -> None:
    loading = []
    for package in ("mesh", "servers", "gateway"):
        for path, tree in modules(package):
            for node in ast.walk(tree):
                if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
                    continue
                if any(node.value.startswith(f"servers.{name}.") for name in SERVER_NAMES):
                    own = path.split("/")[1] if path.startswith("servers/") else None
                    if not (own and node.value.startswith(f"servers.{own}.")):
                        loading.append(f"{path}:{node.lineno}: {node.value!r}")
    assert loading == []
