"""Who is calling a server: the one resolution every server that keeps something per caller uses.

In order: the subject (else the client id) of an access token the server itself verified; the
principal the gateway forwards (``_meta`` key :data:`PRINCIPAL_META`, else the header
:data:`PRINCIPAL_HEADER`), only when the operator trusts it, because any client that reaches the
server directly could send them; else the server's default principal. A server passes its settings
(anything with ``trust_forwarded_principal`` and ``default_principal``, :class:`PrincipalPolicy`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.mcpserver import Context

from mesh.security.principal import FORWARDED_PRINCIPAL_META

PRINCIPAL_META = FORWARDED_PRINCIPAL_META
PRINCIPAL_HEADER = "x-mcp-suite-principal"
MAX_PRINCIPAL_CHARS = 200
"""A forwarded principal longer than this is cut: it names a budget or a namespace owner, not a payload."""


class PrincipalPolicy(Protocol):
    """What a server's settings say about principals (the memory and aiml settings both have it)."""

    @property
    def trust_forwarded_principal(self) -> bool: ...

    @property
    def default_principal(self) -> str: ...


def principal_of(ctx: Context[Any, Any] | None, policy: PrincipalPolicy) -> str:
    """The principal of the call running now (``ctx``: its context; ``None`` outside a request)."""
    token = get_access_token()
    if token is not None:
        return token.subject or token.client_id
    if policy.trust_forwarded_principal and ctx is not None:
        forwarded = forwarded_principal(ctx)
        if forwarded:
            return forwarded
    return policy.default_principal


def forwarded_principal(ctx: Context[Any, Any]) -> str | None:
    """The principal the request claims was forwarded (``_meta`` first, then the header), trusted or not."""
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
        return value[:MAX_PRINCIPAL_CHARS]
    try:
        headers = ctx.headers
    except (AttributeError, LookupError, ValueError):
        headers = None
    header = headers.get(PRINCIPAL_HEADER) if headers else None
    return header[:MAX_PRINCIPAL_CHARS] if header else None
