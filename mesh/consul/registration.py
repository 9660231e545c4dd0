"""What a server process tells Consul about itself, and how a catalog entry becomes an instance.

Registered: service ``<prefix><server>`` (``mcp-filesystem``), a unique ID (service, address,
port), the advertised address and port, tags ``mcp``, ``<server>``, ``v<version>``, meta with the
protocol versions, supervisor group(s), transport, MCP path and version, and an HTTP check on
the instance's ``/health`` with interval, timeout and ``DeregisterCriticalServiceAfter``.

Consul's agent runs a check at most once a second (a shorter ``Interval`` is stretched to 1 s with
a warning in the agent's log) and reaps a critical service no sooner than a minute: an interval
under a second is refused here, so the setting means what it says.
"""

from __future__ import annotations

import re
import socket
from importlib import metadata
from typing import Any
from urllib.parse import urlsplit

from mesh.config import Settings
from mesh.registry import ServiceInstance

WILDCARD_HOSTS = ("", "0.0.0.0", "::", "[::]")
PROTOCOLS = "2025-11-25,2026-07-28"
MIN_CHECK_INTERVAL_SECONDS = 1.0  # Consul's checks.MinInterval
_ID_UNSAFE = re.compile(r"[^a-zA-Z0-9_.-]")


def suite_version() -> str:
    try:
        return metadata.version("mcp-suite")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0.0.0"


def service_name(prefix: str, server: str) -> str:
    return f"{prefix}{server}"


def server_of(prefix: str, service: str) -> str:
    return service.removeprefix(prefix)


def duration(seconds: float) -> str:
    """Seconds as a Go duration string (``5s``, ``1.5s``)."""
    return f"{seconds:g}s"


def advertised_host(bound_host: str, advertise: str | None) -> str:
    """The address others reach this process at: the setting, the bound host, or this host's address."""
    if advertise:
        return advertise
    host = bound_host.strip("[]")
    if bound_host in WILDCARD_HOSTS:
        try:
            return socket.gethostbyname(socket.gethostname())
        except OSError:
            return "127.0.0.1"
    return host


def service_id(name: str, host: str, port: int) -> str:
    """Unique in the cluster while the process lives: two listeners never share address and port."""
    return _ID_UNSAFE.sub("_", f"{name}-{host}-{port}")


def registration_body(instance: ServiceInstance, settings: Settings) -> dict[str, Any]:
    """The JSON body of ``PUT /v1/agent/service/register`` for ``instance`` (an HTTP instance)."""
    if instance.url is None:
        raise ValueError("only an HTTP instance can register with Consul (a stdio one has no address)")
    consul = settings.registry.consul
    if consul.check_interval_seconds < MIN_CHECK_INTERVAL_SECONDS:
        raise ValueError(
            f"registry.consul.check_interval_seconds is {consul.check_interval_seconds:g}s; Consul runs a check "
            f"at most every {MIN_CHECK_INTERVAL_SECONDS:g}s (it would stretch a shorter one): give 1 or more"
        )
    parts = urlsplit(instance.url)
    if parts.port is None:
        raise ValueError(f"the instance URL {instance.url} has no port")
    host = advertised_host(parts.hostname or "", consul.advertise_address)
    name = service_name(consul.service_prefix, instance.server)
    version = instance.meta.get("version") or suite_version()
    url_host = f"[{host}]" if ":" in host else host
    meta = {
        "protocols": instance.meta.get("protocols", PROTOCOLS),
        "supervisor": instance.meta.get("supervisor") or "none",
        "transport": "streamable-http",
        "path": parts.path or "/mcp",
        "scheme": parts.scheme,
        "version": version,
    }
    return {
        "Name": name,
        "ID": service_id(name, host, parts.port),
        "Address": host,
        "Port": parts.port,
        "Tags": ["mcp", instance.server, f"v{version}"],
        "Meta": meta,
        "Check": {
            "Name": f"{name} /health",
            "HTTP": f"{parts.scheme}://{url_host}:{parts.port}/health",
            "Method": "GET",
            "Interval": duration(consul.check_interval_seconds),
            "Timeout": duration(consul.check_timeout_seconds),
            "DeregisterCriticalServiceAfter": duration(consul.deregister_critical_after_seconds),
        },
    }


def instance_from_entry(prefix: str, entry: dict[str, Any]) -> ServiceInstance | None:
    """A ``/v1/health/service`` entry as an instance; None when it lacks an address or port."""
    service = entry.get("Service") or {}
    node = entry.get("Node") or {}
    host = service.get("Address") or node.get("Address")  # Consul's rule: an empty service address means the node's
    port = service.get("Port")
    if not host or not isinstance(port, int) or port <= 0:
        return None
    meta = {str(k): str(v) for k, v in (service.get("Meta") or {}).items()}
    scheme = meta.get("scheme", "http")
    path = meta.get("path", "/mcp")
    url_host = f"[{host}]" if ":" in host else host
    return ServiceInstance(
        server=server_of(prefix, str(service.get("Service", ""))),
        url=f"{scheme}://{url_host}:{port}{path}",
        meta=meta,
        instance_id=str(service.get("ID") or f"{host}:{port}"),
    )
