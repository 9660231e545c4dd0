"""``mcp-suite client-config``: the exact Claude Desktop JSON or ``claude mcp add`` lines for the suite.

One entry for the gateway (every server's tools as ``<server>_<tool>``) and one per server. Commands are
absolute (Claude Desktop starts them with a minimal PATH) and carry ``--config FILE`` when a config file
is in use, plus the ``MCP_SUITE_*`` variables of the current environment, so every process sees the same
settings.

The gateway over stdio needs a config whose ``registry.static`` names the servers: this module writes
``<data_dir>/client/gateway-stdio.yaml`` (the user's config plus one stdio command per server) and points
the gateway entry at it; a stdio gateway started with no registry at all serves the same servers
(:func:`suite_stdio_registry`). ``--gateway http`` points at a running ``mcp-suite up`` instead.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from gateway.settings import gateway_settings
from mesh.config import CONFIG_ENV, ENV_PREFIX, Settings
from suite.launcher.plan import (
    WILDCARD_HOSTS,
    ordered_servers,
    read_user_config,
    with_static_registry,
    write_private,
)
from suite.settings import load_suite_settings

ClientName = Literal["claude-desktop", "claude-code"]
GatewayMode = Literal["stdio", "http"]
CLIENTS: tuple[ClientName, ...] = ("claude-desktop", "claude-code")
GATEWAY_ENTRY = "mcp-suite"


class ClientConfigError(Exception):
    """The requested output cannot be produced; the message says what to ask for instead."""


@dataclass(frozen=True)
class Entry:
    """One MCP server as a client sees it: a stdio command or an HTTP URL."""

    name: str
    argv: tuple[str, ...] = ()
    url: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)


def mcp_suite_command() -> list[str]:
    """The absolute command that runs ``mcp-suite``: the script beside this interpreter, on PATH, or ``python -m``."""
    # Not resolved: a venv's python is a symlink, and resolving it would leave the venv.
    beside = os.path.join(os.path.dirname(os.path.abspath(sys.executable)), "mcp-suite")
    if os.path.isfile(beside) and os.access(beside, os.X_OK):
        return [beside]
    found = shutil.which("mcp-suite")
    if found:
        return [os.path.abspath(found)]
    return [os.path.abspath(sys.executable), "-m", "suite.cli"]


def carried_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The ``MCP_SUITE_*`` settings of this shell (the config file travels as ``--config`` instead)."""
    return {k: v for k, v in sorted(environ.items()) if k.startswith(ENV_PREFIX) and k != CONFIG_ENV}


def server_entry(server: str, command: Sequence[str], config_file: Path | None, env: Mapping[str, str]) -> Entry:
    config = ["--config", str(config_file)] if config_file else []
    return Entry(f"{GATEWAY_ENTRY}-{server}", (*command, "serve", server, *config), env=dict(env))


def stdio_registry(servers: Sequence[Entry], env: Mapping[str, str]) -> dict[str, list[dict[str, Any]]]:
    """``registry.static`` of the stdio gateway: every server as the stdio command its own entry runs."""
    return {
        entry.name.removeprefix(f"{GATEWAY_ENTRY}-"): [
            {"command": entry.argv[0], "args": list(entry.argv[1:]), **({"env": dict(env)} if env else {})}
        ]
        for entry in servers
    }


def suite_stdio_registry(
    known: Iterable[str], config_file: Path | None, environ: Mapping[str, str] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """What ``client-config`` gives the stdio gateway, for a gateway started without a registry."""
    env = carried_environment(os.environ if environ is None else environ)
    command = mcp_suite_command()
    config_file = config_file.absolute() if config_file else None
    servers = [server_entry(name, command, config_file, env) for name in ordered_servers(known)]
    return stdio_registry(servers, env)


def stdio_gateway_config(
    settings: Settings, servers: Sequence[Entry], config_file: Path | None, env: Mapping[str, str]
) -> Path:
    """Write the config the stdio gateway reads: the user's, with every server as a stdio command."""
    data = with_static_registry(read_user_config(config_file), stdio_registry(servers, env))
    path = settings.data_dir / "client" / "gateway-stdio.yaml"
    header = "# written by `mcp-suite client-config`; the stdio gateway entry reads it\n"
    write_private(path, header + yaml.safe_dump(data))
    load_suite_settings(path)  # refuse to print a config that the gateway would refuse
    return path


def gateway_http_url(settings: Settings) -> str:
    host = "127.0.0.1" if gateway_settings(settings).host in WILDCARD_HOSTS else gateway_settings(settings).host
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{gateway_settings(settings).port}/mcp"


def build_entries(
    settings: Settings,
    known: Iterable[str],
    *,
    config_file: Path | None,
    gateway: GatewayMode = "stdio",
    only: str | None = None,
    environ: Mapping[str, str] | None = None,
    command: Sequence[str] | None = None,
) -> list[Entry]:
    """The gateway entry (unless ``only`` names a server) and one entry per server (or just ``only``)."""
    names = ordered_servers(known)
    if only is not None and only not in (*names, "gateway"):
        raise ClientConfigError(f"unknown server {only!r}; the servers are: gateway, {', '.join(names)}")
    env = carried_environment(os.environ if environ is None else environ)
    command = list(command or mcp_suite_command())
    config_file = config_file.absolute() if config_file else None
    servers = [server_entry(name, command, config_file, env) for name in names]
    entries: list[Entry] = []
    if only in (None, "gateway"):
        if gateway == "http":
            entries.append(Entry(GATEWAY_ENTRY, url=gateway_http_url(settings)))
        else:
            path = stdio_gateway_config(settings, servers, config_file, env)
            argv = (*command, "gateway", "--transport", "stdio", "--config", str(path))
            entries.append(Entry(GATEWAY_ENTRY, argv, env=env))
    if only != "gateway":
        entries += [entry for entry in servers if only is None or entry.name == f"{GATEWAY_ENTRY}-{only}"]
    return entries


def desktop_json(entries: Sequence[Entry]) -> str:
    """``claude_desktop_config.json``: ``{"mcpServers": {name: {"command", "args", "env"}}}``."""
    servers: dict[str, Any] = {}
    for entry in entries:
        if entry.url is not None:
            raise ClientConfigError(
                "Claude Desktop's config file starts commands only; add the running gateway "
                f"({entry.url}) under Settings > Connectors instead, or use --gateway stdio"
            )
        body: dict[str, Any] = {"command": entry.argv[0], "args": list(entry.argv[1:])}
        if entry.env:
            body["env"] = dict(entry.env)
        servers[entry.name] = body
    return json.dumps({"mcpServers": servers}, indent=2)


def code_json(entries: Sequence[Entry]) -> str:
    """A project ``.mcp.json`` for Claude Code: stdio commands and HTTP URLs with their ``type``."""
    servers: dict[str, Any] = {}
    for entry in entries:
        if entry.url is not None:
            servers[entry.name] = {"type": "http", "url": entry.url}
        else:
            body: dict[str, Any] = {"type": "stdio", "command": entry.argv[0], "args": list(entry.argv[1:])}
            if entry.env:
                body["env"] = dict(entry.env)
            servers[entry.name] = body
    return json.dumps({"mcpServers": servers}, indent=2)


def code_lines(entries: Sequence[Entry]) -> str:
    """One ``claude mcp add`` line per entry, quoted for a POSIX shell."""
    lines = []
    for entry in entries:
        if entry.url is not None:
            lines.append(shlex.join(["claude", "mcp", "add", "--transport", "http", entry.name, entry.url]))
            continue
        words = ["claude", "mcp", "add", "--transport", "stdio", entry.name]
        for key, value in entry.env.items():
            words += ["--env", f"{key}={value}"]
        lines.append(shlex.join([*words, "--", *entry.argv]))
    return "\n".join(lines)


def render(client: ClientName, entries: Sequence[Entry], *, as_json: bool = False) -> str:
    if client == "claude-desktop":
        return desktop_json(entries)
    return code_json(entries) if as_json else code_lines(entries)
