"""Checks of docker-compose.yml's invariants, as functions that return the problems they find.

Each check takes the parsed compose document (``yaml.safe_load``: anchors and ``<<`` merges
resolved) and returns a list of sentences, empty when all is well, so a test can run it on the
real file and on a deliberately broken snippet alike. Interpolation follows Compose's rules:
``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``, ``${VAR:?message}``, ``${VAR?message}``,
``$VAR``, and ``$$`` for a literal dollar.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

Compose = Mapping[str, Any]

_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?])?(?P<arg>[^}]*)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)
_SECRET_KEY = re.compile(r"(PASSWORD|PASSWD|TOKEN|SECRET|API_KEY|CREDENTIALS|_AUTH$|^AUTH)", re.IGNORECASE)
_SECRET_FLAG = re.compile(r"--?[a-z-]*(pass|password|token|secret|api-?key)[a-z-]*", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^/@\s\"':]*:(?P<password>[^@\s\"]+)@", re.IGNORECASE)

SERVER_COMMAND = "serve"
GATEWAY_COMMAND = "gateway"


class MissingVariable(ValueError):
    """A ``${VAR:?message}`` whose variable is unset or empty."""


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """``text`` with every Compose variable reference replaced from ``env``."""

    def replace(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["bare"]
        op, arg = match["op"] or "", match["arg"] or ""
        value = env.get(name)
        unset_or_empty = value is None or (op.startswith(":") and value == "")
        if op.endswith("?") and unset_or_empty:
            raise MissingVariable(f"required variable {name} is missing a value: {arg}")
        if op.endswith("-") and unset_or_empty:
            return arg
        return value or ""

    return _VARIABLE.sub(replace, text)


def variables_in(text: str) -> set[str]:
    """The names of the variables ``text`` interpolates (``$$`` escapes are not references)."""
    return {m["braced"] or m["bare"] for m in _VARIABLE.finditer(text) if not m["escaped"]}


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=value`` lines of a dotenv file; comments and blank lines skipped."""
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, value = stripped.partition("=")
        if not sep:
            raise ValueError(f"{path}: not a KEY=value line: {line!r}")
        values[key.strip()] = value.strip()
    return values


def interpolate_document(node: Any, env: Mapping[str, str]) -> Any:
    """The whole document with every string interpolated."""
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [interpolate_document(item, env) for item in node]
    if isinstance(node, dict):
        return {key: interpolate_document(value, env) for key, value in node.items()}
    return node


def services(compose: Compose) -> dict[str, dict[str, Any]]:
    found = compose.get("services") or {}
    return dict(found) if isinstance(found, Mapping) else {}


def environment_of(service: Mapping[str, Any]) -> dict[str, str]:
    """A service's environment as a mapping, whether written as a mapping or as ``KEY=value`` items."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return {k: v for k, _, v in (str(item).partition("=") for item in env)}
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def command_of(service: Mapping[str, Any]) -> list[str]:
    command = service.get("command") or []
    return command.split() if isinstance(command, str) else [str(word) for word in command]


def mcp_services(compose: Compose) -> dict[str, dict[str, Any]]:
    """Services running the suite's image: ``serve <server> ...`` or ``gateway ...``."""
    return {
        name: svc
        for name, svc in services(compose).items()
        if command_of(svc)[:1] in ([SERVER_COMMAND], [GATEWAY_COMMAND])
    }


def server_of(service: Mapping[str, Any]) -> str | None:
    """The server a ``serve <server>`` service runs, else None."""
    words = command_of(service)
    return words[1] if len(words) > 1 and words[0] == SERVER_COMMAND else None


def option(words: list[str], flag: str) -> str | None:
    """The value after ``flag`` in a command line, else None."""
    for index, word in enumerate(words[:-1]):
        if word == flag:
            return words[index + 1]
    return None


def _depends_on(service: Mapping[str, Any]) -> dict[str, str]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {str(name): "service_started" for name in deps}
    return {str(name): str((spec or {}).get("condition", "service_started")) for name, spec in deps.items()}


# ---------------------------------------------------------------- the checks


def healthcheck_problems(compose: Compose) -> list[str]:
    problems = []
    for name, svc in services(compose).items():
        check = svc.get("healthcheck")
        if not isinstance(check, Mapping) or check.get("disable"):
            problems.append(f"{name}: no healthcheck")
            continue
        test = check.get("test")
        words = [test] if isinstance(test, str) else list(test or [])
        if not words or words[0] == "NONE" or (words[0] in ("CMD", "CMD-SHELL") and len(words) < 2):
            problems.append(f"{name}: healthcheck has no test command")
    return problems


def image_problems(compose: Compose, *, suite_image: str) -> list[str]:
    """Every image pinned (a tag other than ``latest``, or a digest); built services tag ``suite_image``."""
    problems = []
    for name, svc in services(compose).items():
        image = svc.get("image")
        if not image:
            problems.append(f"{name}: no image (a built service must still name and tag its image)")
            continue
        image = str(image)
        if "@sha256:" in image:
            continue
        last = image.rsplit("/", 1)[-1]
        tag = last.partition(":")[2]
        if not tag:
            problems.append(f"{name}: image {image} has no tag (pin an exact version)")
        elif tag == "latest" or "$" in tag:
            problems.append(f"{name}: image {image} is not pinned to a version")
        if "build" in svc:
            build = svc["build"]
            dockerfile = build.get("dockerfile", "Dockerfile") if isinstance(build, Mapping) else "Dockerfile"
            if dockerfile != "Dockerfile":
                problems.append(f"{name}: builds from {dockerfile}, not the suite's Dockerfile")
            if image != suite_image:
                problems.append(f"{name}: builds the suite but tags it {image}, not {suite_image}")
    return problems


def published_ports(compose: Compose) -> Iterator[tuple[str, str, str, str]]:
    """``(service, host_ip, host_port, container_port)`` for every published port (already interpolated)."""
    for name, svc in services(compose).items():
        for port in svc.get("ports") or []:
            if isinstance(port, Mapping):
                yield name, str(port.get("host_ip", "")), str(port.get("published", "")), str(port.get("target", ""))
                continue
            parts = str(port).rsplit(":", 2)
            if len(parts) == 3:
                yield name, parts[0], parts[1], parts[2]
            elif len(parts) == 2:
                yield name, "", parts[0], parts[1]
            else:
                yield name, "", "", parts[0]


def port_problems(interpolated: Compose, *, allowed_hosts: set[str], loopback: str = "127.0.0.1") -> list[str]:
    """Only ``allowed_hosts`` publish ports; each host port once; each bound to ``loopback``."""
    problems = []
    seen: dict[str, str] = {}
    for name, host_ip, host_port, container in published_ports(interpolated):
        if name not in allowed_hosts:
            problems.append(f"{name}: publishes {container} to the host, but only {sorted(allowed_hosts)} may")
        if not host_port:
            problems.append(f"{name}: port {container} is published on a random host port; name it")
        elif host_port in seen:
            problems.append(f"{name}: host port {host_port} is already published by {seen[host_port]}")
        else:
            seen[host_port] = name
        if host_ip != loopback:
            problems.append(f"{name}: port {host_port or container} binds {host_ip or 'every address'}, not {loopback}")
    return problems


def restart_problems(compose: Compose) -> list[str]:
    return [
        f"{name}: restart is {svc.get('restart')!r}, not 'unless-stopped'"
        for name, svc in services(compose).items()
        if svc.get("restart") != "unless-stopped"
    ]


def resource_problems(compose: Compose) -> list[str]:
    problems = []
    for name, svc in services(compose).items():
        limits = ((svc.get("deploy") or {}).get("resources") or {}).get("limits") or {}
        for key in ("cpus", "memory"):
            if not limits.get(key):
                problems.append(f"{name}: no deploy.resources.limits.{key}")
    return problems


def _volume_source(volume: Any) -> tuple[str, str]:
    """``(kind, source)`` of one service volume: kind is 'volume', 'bind' or 'anonymous'."""
    if isinstance(volume, Mapping):
        kind, source = str(volume.get("type", "volume")), str(volume.get("source", ""))
    else:
        parts = str(volume).split(":")
        source = parts[0] if len(parts) > 1 else ""
        kind = "bind" if source.startswith((".", "/", "~", "$")) else "volume"
    return ("anonymous", "") if kind == "volume" and not source else (kind, source)


def volume_problems(compose: Compose, *, stateless: set[str]) -> list[str]:
    """Named volumes declared and used; every service but ``stateless`` ones keeps state in one."""
    declared = set((compose.get("volumes") or {}).keys())
    used: set[str] = set()
    problems = []
    for name, svc in services(compose).items():
        named = []
        for volume in svc.get("volumes") or []:
            kind, source = _volume_source(volume)
            if kind == "anonymous":
                problems.append(f"{name}: an anonymous volume ({volume}); give it a name")
            elif kind == "volume":
                named.append(source)
                if source not in declared:
                    problems.append(f"{name}: volume {source} is not declared under the top-level volumes")
        used.update(named)
        if not named and name not in stateless:
            problems.append(f"{name}: keeps no state in a named volume")
    problems += [f"volume {v} is declared but no service mounts it" for v in sorted(declared - used)]
    return problems


def bind_mount_sources(compose: Compose) -> list[tuple[str, str]]:
    """``(service, source)`` of every bind mount."""
    return [
        (name, source)
        for name, svc in services(compose).items()
        for kind, source in map(_volume_source, svc.get("volumes") or [])
        if kind == "bind"
    ]


def _strings(node: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, str):
        yield where, node
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _strings(item, f"{where}[{index}]")
    elif isinstance(node, Mapping):
        for key, value in node.items():
            yield from _strings(value, f"{where}.{key}" if where else str(key))


def _is_reference(text: str) -> bool:
    return bool(re.fullmatch(r"\$\{[A-Za-z_][A-Za-z0-9_]*(:?[-?][^}]*)?\}", text.strip()))


def literal_secret_problems(compose: Compose) -> list[str]:
    """Secret-named environment values and passwords inside URLs must be ``${...}`` references."""
    problems = []
    for name, svc in services(compose).items():
        for key, value in environment_of(svc).items():
            if _SECRET_KEY.search(key) and value and "${" not in value:
                problems.append(f"{name}: {key} holds a literal value; take it from .env as ${{...}}")
        words = command_of(svc)
        for flag, value in itertools.pairwise(words):
            if _SECRET_FLAG.fullmatch(flag) and not _is_reference(value):
                problems.append(f"{name}: command passes {flag} a literal value; take it from .env as ${{...}}")
    for where, text in _strings(compose, ""):
        for match in _URL_PASSWORD.finditer(text):
            if not _is_reference(match["password"]):
                problems.append(f"{where}: a URL carries a literal password; use a ${{...}} reference")
    return problems


def env_example_problems(compose_text: str, example: Mapping[str, str]) -> list[str]:
    """The example names every variable the compose file interpolates, and nothing it does not."""
    used = variables_in(compose_text)
    problems = [
        f"{v} is interpolated by docker-compose.yml but missing from .env.example" for v in sorted(used - set(example))
    ]
    problems += [f"{v} is in .env.example but docker-compose.yml never uses it" for v in sorted(set(example) - used)]
    return problems


def registration_problems(compose: Compose) -> list[str]:
    """Every MCP service uses Consul; every server replica advertises its own service name."""
    problems = []
    advertised: dict[str, str] = {}
    for name, svc in mcp_services(compose).items():
        env = environment_of(svc)
        if env.get("MCP_SUITE_REGISTRY__KIND") != "consul":
            problems.append(f"{name}: MCP_SUITE_REGISTRY__KIND is not 'consul'")
        if not env.get("CONSUL_HTTP_ADDR", "").startswith("http://consul:"):
            problems.append(f"{name}: CONSUL_HTTP_ADDR does not point at the consul service")
        if not env.get("CONSUL_HTTP_TOKEN", "").startswith("${CONSUL_HTTP_TOKEN"):
            problems.append(f"{name}: CONSUL_HTTP_TOKEN is not taken from .env")
        if _depends_on(svc).get("consul") != "service_healthy":
            problems.append(f"{name}: does not wait for consul to be healthy")
        if server_of(svc) is None:
            continue
        address = env.get("MCP_SUITE_REGISTRY__CONSUL__ADVERTISE_ADDRESS")
        if address != name:
            problems.append(f"{name}: advertises {address!r}, not its own service name {name!r}")
        elif address in advertised:
            problems.append(f"{name}: advertises the same address as {advertised[address]}")
        else:
            advertised[address] = name
        if svc.get("hostname") not in (None, name):
            problems.append(f"{name}: hostname {svc.get('hostname')!r} differs from the service name")
    return problems


def dependency_problems(compose: Compose) -> list[str]:
    """Every dependency names a defined service and waits for it to be healthy."""
    defined = set(services(compose))
    problems = []
    for name, svc in services(compose).items():
        for dep, condition in _depends_on(svc).items():
            if dep not in defined:
                problems.append(f"{name}: depends on {dep}, which is not a service")
            elif condition != "service_healthy":
                problems.append(f"{name}: depends on {dep} with {condition}, not service_healthy")
    return problems


def server_coverage_problems(
    compose: Compose, known_servers: set[str], ports: Mapping[str, int], *, replicated: Mapping[str, int]
) -> list[str]:
    """Every known server has a service (``replicated`` ones that many); none runs an unknown server."""
    replicas: dict[str, list[str]] = {}
    problems = []
    for name, svc in mcp_services(compose).items():
        server = server_of(svc)
        if server is None:
            continue
        if server not in known_servers:
            problems.append(f"{name}: runs {server!r}, which suite/known.py does not know (it would crash)")
            continue
        replicas.setdefault(server, []).append(name)
        words = command_of(svc)
        port = option(words, "--port")
        if port != str(ports[server]):
            problems.append(f"{name}: listens on {port}, not {server}'s port {ports[server]}")
        if option(words, "--transport") != "http" or option(words, "--host") != "0.0.0.0":
            problems.append(f"{name}: must serve --transport http on --host 0.0.0.0")
        health = environment_of(svc).get("HEALTHCHECK_URL", "")
        if health != f"http://127.0.0.1:{port}/health":
            problems.append(f"{name}: HEALTHCHECK_URL {health!r} does not probe its own /health")
    for server in sorted(known_servers):
        count = len(replicas.get(server, []))
        wanted = replicated.get(server, 1)
        if count < wanted:
            problems.append(f"server {server} has {count} compose service(s) running `serve {server}`; wants {wanted}")
    return problems
