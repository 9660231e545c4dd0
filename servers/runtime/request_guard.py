"""A server's HTTP requests checked before the SDK reads them: the body limit and the JSON-RPC envelope.

The SDK answers a body over its limit with a bare ``413: Request body too large`` and a body that is
not a JSON-RPC message with one pydantic error per message model. :class:`RequestGuardMiddleware`
answers both as one JSON-RPC error (:mod:`mesh.jsonrpc_envelope`): ``too_large:`` naming the server's
setting, ``-32700``/``-32600`` saying what is wrong with the envelope. The limit is the server's own
(:attr:`~servers.runtime.definition.ServerDefinition.body_limit`), so a request the server's tools
would take is never refused on its way in.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from mesh.asgi_body import read_body, replay
from mesh.jsonrpc_envelope import RpcProblem, parse_message, too_large
from servers.runtime.definition import BodyLimit


class RequestGuardMiddleware:
    """Refuse a POST to ``path`` over ``limit`` or not one JSON-RPC message; pass everything else to ``app``."""

    def __init__(self, app: ASGIApp, *, limit: BodyLimit, path: str = "/mcp") -> None:
        self.app = app
        self.limit = limit
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        refusal = too_large(self.limit.max_bytes, self.limit.setting)
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit.max_bytes:
            await _answer(send, refusal)
            return
        body, complete = await read_body(receive, self.limit.max_bytes)
        if len(body) > self.limit.max_bytes:
            await _answer(send, refusal)
            return
        if complete and headers.get(b"content-type", b"").lower().startswith(b"application/json"):
            _, problem = parse_message(body)
            if problem is not None:
                await _answer(send, problem)
                return
        await self.app(scope, replay(body, receive, complete), send)


async def _answer(send: Send, problem: RpcProblem) -> None:
    payload = problem.encoded()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": problem.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
