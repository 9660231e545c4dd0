"""Who is calling, and what they may do in a namespace.

The principal is, in order: the subject of the access token the server itself verified; the
principal the gateway forwards (``_meta`` key :data:`PRINCIPAL_META` or header
:data:`PRINCIPAL_HEADER`), only when ``memory.trust_forwarded_principal`` is on, because any
client could send them; else ``memory.default_principal``. ``memory.namespaces`` maps each
namespace to the principals that may read and write it; with none configured every namespace is
open to every principal (the single-user default).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.mcpserver import Context

from mesh.security.principal import FORWARDED_PRINCIPAL_META
from servers.memory.errors import MemoryToolError
from servers.memory.settings import ANYONE, NAMESPACE_PATTERN, MemorySettings, NamespaceAccess

PRINCIPAL_META = FORWARDED_PRINCIPAL_META
PRINCIPAL_HEADER = "x-mcp-suite-principal"
_NAMESPACE = re.compile(NAMESPACE_PATTERN)


@dataclass(frozen=True)
class Caller:
    """The principal of one call and the tool it called (the provenance of what it writes)."""

    principal: str
    tool: str


def principal_of(ctx: Context[Any, Any] | None, settings: MemorySettings) -> str:
    token = get_access_token()
    if token is not None:
        return token.subject or token.client_id
    if settings.trust_forwarded_principal and ctx is not None:
        forwarded = _forwarded(ctx)
        if forwarded:
            return forwarded
    return settings.default_principal


def _forwarded(ctx: Context[Any, Any]) -> str | None:
    try:
        meta = ctx.request_context.meta
    except (AttributeError, LookupError, ValueError):
        meta = None
    value: Any = None
    if isinstance(meta, Mapping):
        value = meta.get(PRINCIPAL_META)
    elif meta is not None:
        value = (getattr(meta, "model_extra", None) or {}).get(PRINCIPAL_META)
    if isinstance(value, str) and value:
        return value[:200]
    try:
        headers = ctx.headers
    except (AttributeError, LookupError, ValueError):
        headers = None
    header = headers.get(PRINCIPAL_HEADER) if headers else None
    return header[:200] if header else None


class AccessPolicy:
    """The namespaces of ``memory.namespaces`` and who may read and write each."""

    def __init__(self, settings: MemorySettings) -> None:
        self.settings = settings
        self.configured: dict[str, NamespaceAccess] = dict(settings.namespaces)

    def namespace(self, asked: str | None) -> str:
        name = asked or self.settings.default_namespace
        if not _NAMESPACE.match(name):
            raise MemoryToolError(
                "invalid_namespace",
                f"{name!r} is not a namespace name: lower-case letters, digits, '.', '_' or '-', at most 64",
            )
        if self.configured and name not in self.configured:
            known = ", ".join(sorted(self.configured))
            raise MemoryToolError(
                "unknown_namespace", f"there is no namespace {name!r}; the configured ones are {known}"
            )
        return name

    def access(self, namespace: str) -> NamespaceAccess:
        return self.configured.get(namespace) or NamespaceAccess()

    def can_read(self, principal: str, namespace: str) -> bool:
        allowed = self.access(namespace)
        return ANYONE in allowed.read or principal in allowed.read or self.can_write(principal, namespace)

    def can_write(self, principal: str, namespace: str) -> bool:
        if self.settings.read_only:
            return False
        allowed = self.access(namespace)
        return ANYONE in allowed.write or principal in allowed.write

    def check_read(self, principal: str, namespace: str) -> None:
        if not self.can_read(principal, namespace):
            raise MemoryToolError(
                "forbidden", f"{principal!r} may not read namespace {namespace!r}; `list_namespaces` shows yours"
            )

    def check_write(self, principal: str, namespace: str) -> None:
        if not self.can_write(principal, namespace):
            raise MemoryToolError(
                "forbidden",
                f"{principal!r} may not write namespace {namespace!r}; nothing was written. "
                "`list_namespaces` shows where you may write",
            )

    def readable(self, principal: str, seen: list[str]) -> list[str]:
        """The namespaces ``principal`` may read: the configured ones, else those the store holds."""
        names = sorted(self.configured) if self.configured else sorted({*seen, self.settings.default_namespace})
        return [n for n in names if self.can_read(principal, n)]
