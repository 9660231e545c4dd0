"""Supervisors (named server groups) and the policies they pass down.

A policy field set at gateway, supervisor, server or tool level applies below it unless a nearer
level sets it too: for each field, the nearest level wins. The scope that set ``max_concurrent``
also owns the bulkhead: a limit set on a supervisor is shared by every call under that supervisor,
one set on a tool is that tool's alone.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gateway.settings import BreakerPolicy, GatewaySettings, Policy, SupervisorSettings

GATEWAY_SERVER = "gateway"


@dataclass(frozen=True)
class EffectivePolicy:
    """Every field resolved; ``bulkhead_scope`` names the level whose ``max_concurrent`` applies."""

    max_concurrent: int
    queue_limit: int
    priority: int
    timeout_seconds: float
    retries: int
    breaker: BreakerPolicy
    bulkhead_scope: str
    supervisor: str | None = None
    attempt_timeout_seconds: float = 5.0


def _levels(
    settings: GatewaySettings, supervisor: str | None, server: str, tool: str | None
) -> list[tuple[str, Policy]]:
    """Policies from the farthest level to the nearest, each with its scope name."""
    levels: list[tuple[str, Policy]] = [("gateway", settings.policy)]
    if supervisor is not None and supervisor in settings.supervisors:
        levels.append((f"supervisor:{supervisor}", settings.supervisors[supervisor].policy))
    group = settings.servers.get(server)
    if group is not None:
        levels.append((f"server:{server}", group.policy))
        if tool is not None and tool in group.tools:
            levels.append((f"tool:{server}/{tool}", group.tools[tool]))
    return levels


def resolve_policy(
    settings: GatewaySettings, *, supervisor: str | None, server: str, tool: str | None = None
) -> EffectivePolicy:
    """The policy of one call: each field from the nearest level that sets it."""
    values: dict[str, Any] = {}
    breaker: dict[str, object] = {}
    scope = "gateway"
    for name, policy in _levels(settings, supervisor, server, tool):
        for field, value in policy.model_dump(exclude={"breaker"}).items():
            if value is not None:
                values[field] = value
                if field == "max_concurrent":
                    scope = name
        for field, value in policy.breaker.model_dump().items():
            if value is not None:
                breaker[field] = value
    return EffectivePolicy(
        max_concurrent=int(values.get("max_concurrent", 64)),
        queue_limit=int(values.get("queue_limit", 256)),
        priority=int(values.get("priority", 0)),
        timeout_seconds=float(values.get("timeout_seconds", 60.0)),
        retries=int(values.get("retries", 1)),
        breaker=BreakerPolicy.model_validate(breaker),
        bulkhead_scope=scope,
        supervisor=supervisor,
        attempt_timeout_seconds=float(values.get("attempt_timeout_seconds", 5.0)),
    )


def supervisor_of_server(settings: GatewaySettings, server: str) -> str | None:
    """The first supervisor whose ``servers`` list names ``server`` (the policy owner through /mcp)."""
    for name, group in settings.supervisors.items():
        if server in group.servers:
            return name
    return None


def supervisor_includes(group: SupervisorSettings, server: str, gateway_tool_name: str) -> bool:
    """Whether a tool (by its gateway name) belongs to the supervisor ``group``."""
    if server == GATEWAY_SERVER:
        return group.include_gateway_tools
    if server in group.servers:
        return True
    return any(fnmatch.fnmatchcase(gateway_tool_name, pattern) for pattern in group.tools)


def describe_supervisors(
    settings: GatewaySettings, tools_by_server: Mapping[str, Iterable[str]]
) -> list[dict[str, object]]:
    """What ``/v1/supervisors`` and ``gateway_capabilities`` show: members, tool counts, policy."""
    described: list[dict[str, object]] = []
    for name, group in settings.supervisors.items():
        count = 0
        for server, names in tools_by_server.items():
            count += sum(1 for tool in names if supervisor_includes(group, server, tool))
        described.append(
            {
                "name": name,
                "servers": list(group.servers),
                "tool_patterns": list(group.tools),
                "tools": count,
                "endpoint": f"/supervisors/{name}/mcp",
                "policy": group.policy.model_dump(exclude_none=True),
            }
        )
    return described
