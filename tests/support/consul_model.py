"""The ConsulDouble's state (services, checks, KV records, requests seen, durations) and its ACL rules.

How Consul treats a request under ACLs is the part worth reading here:

With ``default_policy = deny`` (Consul 1.4+ ACLs):

- no token: the anonymous token, whose rules are the double's ``anonymous`` (none by default);
- a token Consul does not know: 403 ``ACL not found``, for reads and writes alike;
- a read the token lacks the rule for: *not* refused. A list (``/v1/health/service/<name>``, a
  KV ``recurse``) comes back 200 without the entries the token may not read and with the header
  ``X-Consul-Results-Filtered-By-ACLs: true`` (a KV list left empty is a 404 with that header);
  only a single KV key (``GET /v1/kv/<key>``) is refused with 403 ``Permission denied``;
- a write the token lacks the rule for: 403 ``Permission denied: token with AccessorID ... lacks
  permission 'service:write' on "<name>"``.

Rules are prefix rules (``service_prefix``/``key_prefix``): ``""`` covers every name.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import PlainTextResponse, Response

FILTERED_HEADER = "X-Consul-Results-Filtered-By-ACLs"

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)$")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str | None) -> float | None:
    """A Go duration (``10s``, ``1500ms``, ``5m``) in seconds; None when absent."""
    if not text:
        return None
    match = _DURATION.match(text.strip())
    if not match:
        raise ValueError(f"invalid duration {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


@dataclass
class Check:
    status: str
    http: str | None
    interval: float | None
    timeout: float
    deregister_after: float | None
    critical_since: float | None = None
    next_run: float = 0.0
    output: str = ""


@dataclass
class Service:
    id: str
    name: str
    address: str
    port: int
    tags: list[str]
    meta: dict[str, str]
    check: Check | None
    registered: dict[str, Any]
    modify_index: int = 0
    local: bool = False  # registered through this agent's API (lost when the agent restarts without state)


@dataclass
class KvRecord:
    value: bytes
    create_index: int
    modify_index: int
    flags: int = 0


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    token: str | None
    at: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class AclRules:
    """What one token may do: name prefixes per resource and access (``""`` is every name)."""

    service_read: tuple[str, ...] = ()
    service_write: tuple[str, ...] = ()
    key_read: tuple[str, ...] = ()
    key_write: tuple[str, ...] = ()

    def allows(self, resource: str, access: str, name: str) -> bool:
        prefixes: tuple[str, ...] = getattr(self, f"{resource}_{access}")
        # a write rule implies read, as in Consul
        if access == "read":
            prefixes = prefixes + getattr(self, f"{resource}_write")
        return any(name.startswith(prefix) for prefix in prefixes)


MANAGEMENT = AclRules(service_write=("",), key_write=("",))
NOTHING = AclRules()


def service_reader(*prefixes: str) -> AclRules:
    """A token that reads (only) the services under ``prefixes``: what a gateway needs without KV."""
    return AclRules(service_read=prefixes)


@dataclass
class Caller:
    """Who made a request; its rules are looked up when asked, so a blocking query answers under the rules then in force.

    (Consul caches a resolved token for ``acl.token_ttl``; the double applies a change at once.)
    """

    token: str | None
    resolve: Callable[[], AclRules | None]  # None: ACLs are off, everything is allowed

    def allows(self, resource: str, access: str, name: str) -> bool:
        rules = self.resolve()
        return rules is None or rules.allows(resource, access, name)

    def denied(self, resource: str, access: str, name: str) -> Response | None:
        """Consul's 403 for a write (or a single KV read) the token lacks the rule for; None when allowed."""
        if self.allows(resource, access, name):
            return None
        accessor = "anonymous" if self.token is None else f"{abs(hash(self.token)) % 10**8:08d}-double"
        return PlainTextResponse(
            f"Permission denied: token with AccessorID '{accessor}' lacks permission '{resource}:{access}' on \"{name}\"",
            status_code=403,
        )


def acl_not_found() -> Response:
    return PlainTextResponse("ACL not found", status_code=403)


def filtered_headers(filtered: bool) -> dict[str, str]:
    return {FILTERED_HEADER: "true"} if filtered else {}
