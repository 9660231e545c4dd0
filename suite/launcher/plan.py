"""What ``mcp-suite up`` will run: one child per server replica plus the gateway, their ports and command lines.

Every child is ``python -m suite.cli ...`` with the same interpreter as the launcher, so it runs the same
installed code. Servers listen on 127.0.0.1 (they sit behind the gateway): the first replica of a server on
its configured port, extra replicas on free ports picked now. A child keeps its port for the launcher's whole
life, because the gateway reads its instances once, from the generated config file, at start.
"""

from __future__ import annotations

import copy
import os
import socket
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gateway.settings import DEFAULT_PORTS, SERVER_NAMES, gateway_settings
from mesh.config import ServerSettings, Settings
from suite.settings import load_suite_settings

SERVER_HOST = "127.0.0.1"
GATEWAY = "gateway"
WILDCARD_HOSTS = ("0.0.0.0", "::", "")


class PlanError(Exception):
    """``up`` cannot start as asked; the message says what to change."""


@dataclass(frozen=True)
class ChildSpec:
    """One process the launcher keeps running."""

    name: str  # "filesystem-1", "filesystem-2", "gateway"
    server: str  # "filesystem", ... or "gateway"
    host: str
    port: int
    argv: tuple[str, ...]
    log_path: Path
    health_path: str = "/health"  # the gateway's is /ready: 200 once it serves at least one server

    @property
    def probe_host(self) -> str:
        return "127.0.0.1" if self.host in WILDCARD_HOSTS else self.host

    @property
    def base_url(self) -> str:
        host = f"[{self.probe_host}]" if ":" in self.probe_host else self.probe_host
        return f"http://{host}:{self.port}"

    @property
    def health_url(self) -> str:
        return f"{self.base_url}{self.health_path}"

    @property
    def mcp_url(self) -> str:
        return f"{self.base_url}/mcp"


@dataclass(frozen=True)
class Plan:
    """The children of one ``up`` run and where its files go."""

    servers: tuple[ChildSpec, ...]
    gateway: ChildSpec
    run_dir: Path
    gateway_config: Path
    config_file: Path | None

    @property
    def children(self) -> tuple[ChildSpec, ...]:
        return (*self.servers, self.gateway)

    @property
    def state_file(self) -> Path:
        return state_file_of(self.run_dir)


def state_file_of(run_dir: Path) -> Path:
    return run_dir / "launcher.json"


def run_dir_of(settings: Settings) -> Path:
    return settings.data_dir / "run"


def log_dir_of(settings: Settings) -> Path:
    return settings.data_dir / "logs"


def ordered_servers(known: Iterable[str]) -> list[str]:
    """The servers to start: the suite's order first, any newer names after, alphabetically."""
    names = set(known)
    return [n for n in SERVER_NAMES if n in names] + sorted(names - set(SERVER_NAMES))


def parse_replicas(values: Sequence[str], known: Iterable[str]) -> dict[str, int]:
    """``["filesystem=2"]`` -> ``{"filesystem": 2}``; a clear :class:`PlanError` for anything else."""
    servers = set(known)
    counts: dict[str, int] = {}
    for value in values:
        name, sep, number = value.partition("=")
        name = name.strip()
        if not sep or not number.strip().isdigit():
            raise PlanError(f"--replicas takes SERVER=N (e.g. filesystem=2), not {value!r}")
        if name not in servers:
            raise PlanError(f"--replicas names unknown server {name!r}; the servers are: {', '.join(sorted(servers))}")
        count = int(number)
        if count > 16:
            raise PlanError(f"--replicas {name}={count}: at most 16 replicas of one server")
        counts[name] = count
    return counts


def configured_port(settings: Settings, server: str) -> int:
    """The port in the server's settings section, or the suite default for servers without a section yet."""
    section = getattr(settings, server, None)
    if isinstance(section, ServerSettings):
        return section.port
    return DEFAULT_PORTS.get(server, 0)


def port_is_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def pick_free_port(host: str, taken: set[int]) -> int:
    """A port the kernel calls free now and that no other child of the plan uses."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(64):
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port = int(sock.getsockname()[1])
        if port not in taken:
            return port
    raise PlanError("could not find a free TCP port")  # pragma: no cover - the kernel always has one


def cli_argv() -> list[str]:
    """How a child runs the command line: this interpreter, this installed code."""
    return [sys.executable, "-m", "suite.cli"]


def build_plan(
    settings: Settings,
    known: Iterable[str],
    *,
    config_file: Path | None,
    replicas: Mapping[str, int] | None = None,
) -> Plan:
    """Decide every child's name, port and command line; refuse ports that are already taken."""
    replicas = replicas or {}
    run_dir = run_dir_of(settings)
    log_dir = log_dir_of(settings)
    config_args = ["--config", str(config_file)] if config_file else []
    gateway_host = gateway_settings(settings).host
    fixed: list[tuple[str, str, int]] = []  # (child, host, port) whose port the config names
    wanted: list[tuple[str, str, int]] = []  # (child name, server, configured port or 0)
    for server in ordered_servers(known):
        for index in range(replicas.get(server, 1)):
            port = configured_port(settings, server) if index == 0 else 0
            wanted.append((f"{server}-{index + 1}", server, port))
    gateway_port = gateway_settings(settings).port
    taken = {port for _, _, port in wanted if port} | ({gateway_port} if gateway_port else set())
    for name, _server, port in wanted:
        if port:
            fixed.append((name, SERVER_HOST, port))
    if gateway_port:
        fixed.append((GATEWAY, gateway_host, gateway_port))
    busy = [f"{name} wants {host}:{port}" for name, host, port in fixed if not port_is_free(host, port)]
    if busy:
        raise PlanError(
            "ports already in use: "
            + "; ".join(busy)
            + " (is another `mcp-suite up` running? stop it, or move the ports in the config file)"
        )
    servers: list[ChildSpec] = []
    for name, server, port in wanted:
        if not port:
            port = pick_free_port(SERVER_HOST, taken)
            taken.add(port)
        argv = [*cli_argv(), "serve", server, "--transport", "http", "--host", SERVER_HOST, "--port", str(port)]
        servers.append(ChildSpec(name, server, SERVER_HOST, port, (*argv, *config_args), log_dir / f"{name}.log"))
    if not gateway_port:
        gateway_port = pick_free_port(SERVER_HOST, taken)
    gateway_config = run_dir / "gateway.yaml"
    gateway_argv = (
        *cli_argv(),
        "gateway",
        "--transport",
        "http",
        "--host",
        gateway_host,
        "--port",
        str(gateway_port),
        "--config",
        str(gateway_config),
    )
    gateway = ChildSpec(GATEWAY, GATEWAY, gateway_host, gateway_port, gateway_argv, log_dir / "gateway.log", "/ready")
    return Plan(tuple(servers), gateway, run_dir, gateway_config, config_file)


def read_user_config(config_file: Path | None) -> dict[str, Any]:
    """The user's YAML as written (already validated by :func:`suite.settings.load_suite_settings`)."""
    if config_file is None:
        return {}
    data = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    return dict(data) if isinstance(data, dict) else {}


def with_static_registry(user: Mapping[str, Any], static: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, Any]:
    """The user's config with ``registry.static`` entries replaced for the servers in ``static`` (others kept)."""
    data = copy.deepcopy(dict(user))
    registry = dict(data.get("registry") or {})
    merged = dict(registry.get("static") or {})
    merged.update({server: [dict(entry) for entry in entries] for server, entries in static.items()})
    registry["static"] = merged
    data["registry"] = registry
    return data


def gateway_config_data(user: Mapping[str, Any], servers: Sequence[ChildSpec]) -> dict[str, Any]:
    """The user's config with ``registry.static`` naming the launched children by URL."""
    static: dict[str, list[dict[str, Any]]] = {}
    for spec in servers:
        static.setdefault(spec.server, []).append({"url": spec.mcp_url})
    return with_static_registry(user, static)


def write_gateway_config(plan: Plan) -> Path:
    """Write the gateway's config (private: it may hold the user's secrets) and check that it loads."""
    data = gateway_config_data(read_user_config(plan.config_file), plan.servers)
    write_private(plan.gateway_config, "# written by `mcp-suite up`; edits are overwritten\n" + yaml.safe_dump(data))
    load_suite_settings(plan.gateway_config)  # a ConfigError here is a launcher bug worth seeing
    return plan.gateway_config


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` atomically with a file only the owner can read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(temporary, path)
