"""Who is calling, and what they may do in a namespace.

The principal is the kit's (:func:`servers.kit.principal.principal_of` over the memory settings):
the subject of the access token the server itself verified; the principal the gateway forwards,
only when ``memory.trust_forwarded_principal`` is on, because any client could send it; else
``memory.default_principal``. ``memory.namespaces`` maps each namespace to the principals that
may read and write it; with none configured every namespace is open to every principal (the
single-user default).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from servers.kit.principal import PRINCIPAL_HEADER, PRINCIPAL_META, principal_of
from servers.memory.errors import MemoryToolError
from servers.memory.settings import ANYONE, NAMESPACE_PATTERN, MemorySettings, NamespaceAccess

__all__ = ["PRINCIPAL_HEADER", "PRINCIPAL_META", "AccessPolicy", "Caller", "principal_of"]

_NAMESPACE = re.compile(NAMESPACE_PATTERN)


@dataclass(frozen=True)
class Caller:
    """The principal of one call and the tool it called (the provenance of what it writes)."""

    principal: str
    tool: str


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
