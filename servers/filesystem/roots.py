"""How a client's MCP roots reach this server, and how they narrow the operator's.

SDK 2.3.0 gives one mechanism for both protocol eras: a tool parameter filled by a resolver that
returns the ``ListRoots`` marker (:data:`ClientRoots`).

* 2025-11-25 (initialize/session era): when the client declared the ``roots`` capability, the
  SDK sends it a ``roots/list`` request in the middle of the first tool call. The answer is kept
  on the connection and reused until the client sends ``notifications/roots/list_changed``
  (:class:`RootsChangedMiddleware` drops it), so later calls cost no extra round trip.
* 2026-07-28 (stateless era): roots are deprecated (SEP-2577) and a server may not send requests.
  The SDK answers the call with an ``InputRequiredResult`` asking for ``roots/list``; the client
  retries with the answer. There is no connection to keep it on, so a client that declares
  roots pays that second round trip on every call that touches paths.

A client that does not declare ``roots`` gets the operator's directories, with no extra traffic.
Whatever the client says, :meth:`~servers.filesystem.policy.Policy.narrow` only intersects.
"""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.resolve import ListRoots, Resolve
from mcp.types import ListRootsResult
from mcp.types.version import MODERN_PROTOCOL_VERSIONS

from servers.filesystem.policy import Policy, Scope

CACHE_KEY = "mcp_suite.filesystem.client_roots"
ROOTS_CHANGED = "notifications/roots/list_changed"


def _connection_state(session: object) -> dict[str, Any] | None:
    """The per-connection scratch dict (``Connection.state``), or ``None`` where there is none.

    SDK 2.3.0 keeps it on the connection but does not expose the connection on the request
    context; it is reached through the session, guarded so that a later SDK only loses the cache.
    """
    state = getattr(getattr(session, "_connection", None), "state", None)
    return state if isinstance(state, dict) else None


def _legacy(ctx: Context[Any, Any]) -> bool:
    version = ctx.protocol_version
    return version is not None and version not in MODERN_PROTOCOL_VERSIONS


def _session(ctx: Context[Any, Any]) -> object | None:
    try:
        return ctx.request_context.session
    except ValueError:
        return None


async def fetch_client_roots(ctx: Context[Any, Any]) -> ListRootsResult | ListRoots | None:
    """The resolver: no roots capability → ``None``; a cached answer (2025-11-25) → it; else ask."""
    session = _session(ctx)
    if session is None:
        return None
    capabilities = ctx.client_capabilities
    if capabilities is None or capabilities.roots is None:
        return None
    if _legacy(ctx):
        state = _connection_state(session)
        cached = state.get(CACHE_KEY) if state is not None else None
        if isinstance(cached, ListRootsResult):
            return cached
    return ListRoots()


ClientRoots = Annotated[ListRootsResult | None, Resolve(fetch_client_roots)]
"""A tool parameter the SDK fills with the client's roots (never part of the tool's input schema)."""


def scope_for(ctx: Context[Any, Any], policy: Policy, roots: ListRootsResult | None) -> Scope:
    """The scope of this request: the operator's roots, narrowed by the client's when it has any."""
    if roots is None:
        return policy.operator_scope
    if _legacy(ctx):
        session = _session(ctx)
        state = _connection_state(session) if session is not None else None
        if state is not None:
            state[CACHE_KEY] = roots
    return policy.narrow([(str(root.uri), root.name) for root in roots.roots])


def cached_scope(ctx: Context[Any, Any] | None, policy: Policy) -> Scope:
    """For resources and prompts, which cannot ask: the roots this connection already gave, if any."""
    session = _session(ctx) if ctx is not None else None
    state = _connection_state(session) if session is not None else None
    cached = state.get(CACHE_KEY) if state is not None else None
    if isinstance(cached, ListRootsResult):
        return policy.narrow([(str(root.uri), root.name) for root in cached.roots])
    return policy.operator_scope


class RootsChangedMiddleware:
    """Forget a connection's cached roots when the client says they changed."""

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method == ROOTS_CHANGED:
            state = _connection_state(ctx.session)
            if state is not None:
                state.pop(CACHE_KEY, None)
        return await call_next(ctx)
