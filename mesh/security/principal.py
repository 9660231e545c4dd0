"""Who is calling: the subject, its roles and how it proved itself."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

AuthMethod = Literal["jwt", "api_key", "stdio", "none"]

FORWARDED_PRINCIPAL_META = "io.mcp-suite/principal"
"""The ``_meta`` key in which the gateway tells a server who the authenticated caller is. The gateway
sets it on every forwarded call and resource read, and drops any value a client sent in it; a server
trusts it only when told to (it may be reached by other clients than the gateway)."""


@dataclass(frozen=True)
class Principal:
    """An authenticated caller. ``method == "none"`` is the anonymous caller of a gateway without auth,
    which is allowed everything (such a gateway only binds loopback unless started with ``--insecure``).
    ``method == "stdio"`` is the local user of a stdio gateway (no credential travels over stdio); it is
    subject to roles unless ``unrestricted_local`` (a config with no roles and no ``auth.stdio``)."""

    subject: str
    roles: tuple[str, ...] = ()
    method: AuthMethod = "none"
    issuer: str | None = None
    expires_at: int | None = None
    claims: dict[str, object] = field(default_factory=dict, compare=False, hash=False)
    unrestricted_local: bool = False

    @property
    def unrestricted(self) -> bool:
        return self.method == "none" or self.unrestricted_local


ANONYMOUS = Principal(subject="anonymous")


def forwarding_principal(params: Mapping[str, Any], principal: Principal | None) -> dict[str, Any]:
    """``params`` with ``_meta[FORWARDED_PRINCIPAL_META]`` set to the caller's subject (an authenticated
    caller) or removed (an anonymous one, or none): a client's own value never passes."""
    meta = params.get("_meta")
    meta = dict(meta) if isinstance(meta, Mapping) else {}
    if principal is not None and principal.method != "none":
        meta[FORWARDED_PRINCIPAL_META] = principal.subject
    elif FORWARDED_PRINCIPAL_META not in meta:
        return dict(params)
    else:
        del meta[FORWARDED_PRINCIPAL_META]
    forwarded = {**params, "_meta": meta}
    if not meta:
        del forwarded["_meta"]
    return forwarded
