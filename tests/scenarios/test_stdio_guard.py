"""The stdio gateway: no HTTP auth, but roles, rate limits and the audit trail hold for its local principal.

Driven through the real SDK client over stdio: ``mcp-suite gateway --transport stdio`` as a child process,
with the real filesystem server behind it, also over stdio.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError

from gateway.call.catalog import ALL
from gateway.call.guard import FORBIDDEN, RATE_LIMITED, CallGuard
from gateway.call.service import Gateway
from mesh.config import ConfigError
from mesh.registry import StaticRegistry
from mesh.security.settings import local_user_name
from suite.settings import SuiteSettings, load_suite_settings

READER = {"allow": ["filesystem_read_*", "filesystem_list_*"]}


def suite_config(tmp_path: Path, **sections: Any) -> tuple[Path, Path, Path]:
    """A config with the filesystem server (over stdio) and an audit file; returns (config, root, audit)."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "note.txt").write_text("hello\n")
    audit = tmp_path / "audit.jsonl"
    data: dict[str, Any] = {
        "log_level": "warning",
        "registry": {
            "static": {
                "filesystem": [
                    {"command": sys.executable, "args": ["-m", "suite.cli", "serve", "filesystem", str(root)]}
                ]
            }
        },
        "audit": {"path": str(audit), "fsync_interval_seconds": 0},
        **sections,
    }
    config = tmp_path / "suite.yaml"
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    return config, root, audit


def stdio_gateway(config: Path) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "suite.cli", "gateway", "--transport", "stdio", "--config", str(config)],
        env=dict(os.environ),
    )


async def refusal_code(client: Client, name: str, arguments: dict[str, Any]) -> int | None:
    try:
        await client.call_tool(name, arguments)
    except MCPError as exc:
        return exc.error.code
    return None


def audit_records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.anyio
async def test_the_stdio_principals_role_hides_and_refuses_a_denied_tool_and_every_call_is_audited(
    tmp_path: Path,
) -> None:
    config, root, audit = suite_config(
        tmp_path, roles={"reader": READER}, auth={"stdio": {"subject": "carol", "roles": ["reader"]}}
    )
    target = root / "pwned.txt"
    async with Client(stdio_gateway(config)) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        refused = await refusal_code(client, "filesystem_write_file", {"path": str(target), "content": "x"})
        read = await client.call_tool("filesystem_read_text_file", {"path": str(root / "note.txt")})
    assert "filesystem_read_text_file" in names
    assert "filesystem_write_file" not in names and "gateway_status" not in names
    assert refused == FORBIDDEN
    assert not target.exists()
    assert not read.is_error and "hello" in json.dumps(read.model_dump(mode="json"))
    records = audit_records(audit)
    assert [(r["tool"], r["outcome"]) for r in records] == [
        ("filesystem_write_file", "forbidden"),
        ("filesystem_read_text_file", "ok"),
    ]
    assert all(r["principal"] == "carol" and r["auth_method"] == "stdio" for r in records)
    assert all(r["roles"] == ["reader"] and r["endpoint"] == ALL.label() for r in records)


@pytest.mark.anyio
async def test_with_roles_configured_and_no_stdio_principal_the_local_user_sees_and_may_call_nothing(
    tmp_path: Path,
) -> None:
    config, root, audit = suite_config(tmp_path, roles={"reader": READER})
    async with Client(stdio_gateway(config)) as client:
        names = [tool.name for tool in (await client.list_tools()).tools]
        refused = await refusal_code(client, "filesystem_read_text_file", {"path": str(root / "note.txt")})
    assert names == []
    assert refused == FORBIDDEN
    (record,) = audit_records(audit)
    assert (record["principal"], record["auth_method"], record["roles"]) == (local_user_name(), "stdio", [])
    assert record["outcome"] == "forbidden"


@pytest.mark.anyio
async def test_rate_limits_hold_over_stdio(tmp_path: Path) -> None:
    config, root, audit = suite_config(
        tmp_path, rate_limits={"per_tool": {"filesystem_read_*": {"rate": 0.001, "burst": 1}}}
    )
    arguments = {"path": str(root / "note.txt")}
    async with Client(stdio_gateway(config)) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        first = await client.call_tool("filesystem_read_text_file", arguments)
        second = await refusal_code(client, "filesystem_read_text_file", arguments)
    assert "filesystem_write_file" in names  # no roles configured: the local user is unrestricted, as before
    assert not first.is_error
    assert second == RATE_LIMITED
    outcomes = [(r["outcome"], r["principal"], r["auth_method"]) for r in audit_records(audit)]
    assert outcomes == [("ok", local_user_name(), "stdio"), ("rate_limited", local_user_name(), "stdio")]


def guard_for(**sections: Any) -> CallGuard:
    settings = SuiteSettings.model_validate(sections)
    return CallGuard.from_settings(Gateway(settings.gateway, StaticRegistry({})), settings)


def test_the_stdio_principal_is_the_configured_one_subject_to_roles() -> None:
    principal = guard_for(
        roles={"reader": READER}, auth={"stdio": {"subject": "carol", "roles": ["reader"]}}
    ).stdio_principal()
    assert (principal.subject, principal.roles, principal.method) == ("carol", ("reader",), "stdio")
    assert not principal.unrestricted


def test_without_auth_stdio_the_local_user_is_unrestricted_only_while_no_roles_are_configured() -> None:
    open_guard = guard_for().stdio_principal()
    closed_guard = guard_for(roles={"reader": READER}).stdio_principal()
    assert open_guard.subject == closed_guard.subject == local_user_name()
    assert open_guard.unrestricted and open_guard.method == "stdio"
    assert not closed_guard.unrestricted and closed_guard.roles == ()


def test_auth_stdio_defaults_its_subject_to_the_local_user_and_keeps_http_auth_off() -> None:
    settings = SuiteSettings.model_validate({"auth": {"stdio": {"roles": ["reader"]}}})
    assert settings.auth.stdio is not None and settings.auth.stdio.subject == local_user_name()
    assert not settings.auth.configured  # naming the stdio principal does not make HTTP callers authenticate


@pytest.mark.parametrize(
    ("stdio", "complaint"),
    [
        ({"subject": ""}, "auth.stdio.subject = '': String should have at least 1 character"),
        ({"subject": "carol", "role": ["x"]}, "auth.stdio.role: unknown key"),
    ],
)
def test_a_bad_auth_stdio_section_is_refused_with_the_field_named(
    tmp_path: Path, stdio: dict[str, Any], complaint: str
) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump({"auth": {"stdio": stdio}}), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_suite_settings(config)
    assert complaint in str(caught.value)
