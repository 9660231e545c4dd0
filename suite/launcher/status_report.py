"""``mcp-suite status``: what a running gateway says about its servers and instances, as a table.

The figures come from the gateway's ``GET /v1/instances``; when ``mcp-suite up`` runs on this machine
(its state file names a live process) the launcher's process table is printed under them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from suite.launcher.status_table import format_duration, render_rows


class GatewayUnreachable(Exception):
    """No gateway answers at the URL; the message says what was tried."""


def fetch_instances(base_url: str, *, timeout: float = 3.0) -> dict[str, Any]:
    """``GET <base_url>/v1/instances`` as a dict; :class:`GatewayUnreachable` when nothing sensible answers."""
    url = base_url.rstrip("/") + "/v1/instances"
    try:
        response = httpx.get(url, timeout=timeout, trust_env=False)
    except httpx.HTTPError as exc:
        raise GatewayUnreachable(f"no gateway answers at {url} ({type(exc).__name__})") from None
    if response.status_code != 200:
        raise GatewayUnreachable(f"{url} answered HTTP {response.status_code}, not the gateway's instance list")
    try:
        body = response.json()
    except ValueError:
        raise GatewayUnreachable(f"{url} did not answer JSON; is it the mcp-suite gateway?") from None
    if not isinstance(body, dict) or not isinstance(body.get("servers"), list):
        raise GatewayUnreachable(f"{url} answered JSON without 'servers'; is it the mcp-suite gateway?")
    return body


def instance_health(instance: Mapping[str, Any]) -> str:
    """One word for the HEALTH column."""
    if instance.get("serving"):
        return "serving"
    if not instance.get("healthy"):
        return "unhealthy"
    if not instance.get("admitted", True):
        return "not-admitted"
    breaker = instance.get("breaker") or {}
    if breaker.get("state") == "open":
        return "breaker-open"
    return "not-serving"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in (header, *rows)
    ]


def render_instances(body: Mapping[str, Any], base_url: str) -> list[str]:
    """The gateway line, then one row per instance: health, breaker state, inflight, calls, failures."""
    info = body.get("gateway") or {}
    catalog = body.get("catalog") or {}
    uptime = body.get("uptime_seconds")
    lines = [
        f"gateway {info.get('name', '?')} {info.get('version', '')} at {base_url}"
        + (f"  up {format_duration(float(uptime))}" if isinstance(uptime, int | float) else "")
        + f"  tools {catalog.get('tools', '?')}"
    ]
    rows: list[list[str]] = []
    for server in body.get("servers") or []:
        instances = server.get("instances") or []
        if not instances:
            rows.append([str(server.get("server")), "-", "-", "no instances", "-", "-", "-", "-"])
        for instance in instances:
            breaker = instance.get("breaker") or {}
            rows.append(
                [
                    str(server.get("server")),
                    str(instance.get("id")),
                    str(instance.get("address")),
                    instance_health(instance),
                    str(breaker.get("state", "?")),
                    str(instance.get("inflight", 0)),
                    str(instance.get("calls", 0)),
                    str(instance.get("failures", 0)),
                ]
            )
    header = ("SERVER", "INSTANCE", "ADDRESS", "HEALTH", "BREAKER", "INFLIGHT", "CALLS", "FAILURES")
    lines += ["", *_table(header, rows)] if rows else ["", "the gateway has no servers in its registry"]
    problems = catalog.get("problems") or []
    if problems:
        lines += ["", "catalog problems:", *(f"  {problem}" for problem in problems)]
    for server in body.get("servers") or []:
        for instance in server.get("instances") or []:
            if instance.get("last_error") and not instance.get("serving"):
                lines.append(f"  {instance.get('id')}: {instance['last_error']}")
    return lines


def render_launcher(state: Mapping[str, Any]) -> list[str]:
    """The process table of a running ``mcp-suite up``."""
    children = state.get("children") or []
    lines = ["", f"processes of `mcp-suite up` (pid {state.get('pid')}):"]
    return lines + render_rows(children, color=False) if children else lines
