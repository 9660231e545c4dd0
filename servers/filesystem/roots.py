"""How a client's MCP roots reach this server, and how they narrow the operator's.

Each tool starts with ``scope = await request_scope(ctx, policy)``:

* A client that did not declare the ``roots`` capability gets the operator's directories, with no
  extra traffic (the common case, and the fast path).
* 2025-11-25 (initialize/session era): the server sends ``roots/list`` on the request's own
  stream the first time, keeps the answer on the connection, and reuses it until the client
  sends ``notifications/roots/list_changed`` (:class:`RootsChangedMiddleware` drops it).
* 2026-07-28 (stateless era): roots are deprecated (SEP-2577) and a server may not send
  requests, so the call answers with an ``InputRequiredResult`` asking for ``roots/list``; the
  client retries with the answer in ``input_responses``. There is no connection to keep it on,
  so such a client pays that second round trip on every call that touches paths.

This is what the SDK's ``Resolve(ListRoots)`` does, written out so the no-roots path costs
nothing: :func:`roots_scoped` tools declare that they need the SDK's session only for a client that
declared roots, so the runtime's fast path serves every other client's calls with a light ``Context``. Whatever the client answers, :meth:`~servers.kit.paths.policy.Policy.narrow` only
intersects: an answer sent without being asked can narrow, never widen.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import Context
from mcp.shared.exceptions import MCPError
from mcp.shared.message import ServerMessageMetadata
from mcp.types import ClientCapabilities, InputRequiredResult, ListRootsRequest, ListRootsResult
from mcp.types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import ValidationError

from servers.filesystem.errors import FsError
from servers.kit.paths.policy import Policy, Scope
from servers.kit.scoped_calls import ToolFunction, scoped
from servers.runtime.light_context import session_needed_when

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


ROOTS_REQUEST_KEY = "mcp-suite.filesystem.roots"


async def request_scope(ctx: Context[Any, Any], policy: Policy) -> Scope | InputRequiredResult:
    """This request's scope: the operator's roots, narrowed by the client's when it declared any."""
    session = _session(ctx)
    if session is None:
        return policy.operator_scope
    if not declares_roots(ctx.client_capabilities):
        return policy.operator_scope
    if _legacy(ctx):
        roots = await _legacy_roots(ctx, session)
    else:
        answer = (ctx.input_responses or {}).get(ROOTS_REQUEST_KEY)
        if answer is None:
            return InputRequiredResult(input_requests={ROOTS_REQUEST_KEY: ListRootsRequest()})
        try:
            roots = ListRootsResult.model_validate(answer.model_dump(mode="json", by_alias=True, exclude_none=True))
        except ValidationError:
            raise FsError("roots_unavailable", "the client's answer to roots/list is not a list of roots") from None
    return _narrow(policy, roots)


def declares_roots(capabilities: ClientCapabilities | None) -> bool:
    """Whether the client declared roots: then a tool's scope needs the SDK's session (roots/list)."""
    return capabilities is not None and capabilities.roots is not None


def roots_scoped(policy: Policy) -> Callable[[ToolFunction], ToolFunction]:
    """Run a tool in :func:`request_scope`; its ``Context`` is light for a client that declared no roots."""
    in_scope = scoped(lambda ctx: request_scope(ctx, policy))
    light = session_needed_when(declares_roots)
    return lambda tool: light(in_scope(tool))


async def _legacy_roots(ctx: Context[Any, Any], session: Any) -> ListRootsResult:
    state = _connection_state(session)
    cached = state.get(CACHE_KEY) if state is not None else None
    if isinstance(cached, ListRootsResult):
        return cached
    try:
        roots: ListRootsResult = await session.send_request(
            ListRootsRequest(), ListRootsResult, metadata=ServerMessageMetadata(related_request_id=ctx.request_id)
        )
    except (MCPError, ValidationError) as exc:
        raise FsError(
            "roots_unavailable",
            f"the client declared the roots capability but roots/list failed ({type(exc).__name__}); "
            "fix the client's roots or connect without declaring them",
        ) from None
    if state is not None:
        state[CACHE_KEY] = roots
    return roots


def _narrow(policy: Policy, roots: ListRootsResult) -> Scope:
    return policy.narrow([(str(root.uri), root.name) for root in roots.roots])


def cached_scope(ctx: Context[Any, Any] | None, policy: Policy) -> Scope:
    """For resources and prompts, which cannot ask: the roots this connection already gave, if any."""
    session = _session(ctx) if ctx is not None else None
    state = _connection_state(session) if session is not None else None
    cached = state.get(CACHE_KEY) if state is not None else None
    if isinstance(cached, ListRootsResult):
        return _narrow(policy, cached)
    return policy.operator_scope


class RootsChangedMiddleware:
    """Forget a connection's cached roots when the client says they changed."""

    neutral_to_tool_calls = True
    """It acts on a notification only: the runtime's fast path may stand in for it on ``tools/call``."""

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method == ROOTS_CHANGED:
            state = _connection_state(ctx.session)
            if state is not None:
                state.pop(CACHE_KEY, None)
        return await call_next(ctx)
