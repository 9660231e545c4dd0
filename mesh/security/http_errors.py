"""Transport-level refusals as JSON: the SDK answers some HTTP checks (Content-Type, Accept, Host,
protocol-version headers) with a plain-text or empty 4xx body. This pure-ASGI middleware rewrites any
non-JSON 4xx answer into a JSON-RPC error body (``id: null``, code -32600, the original status and text
in the message), so every refusal a client gets is machine-readable. 2xx, 5xx, JSON and streamed
responses pass untouched."""

from __future__ import annotations

import json
from http import HTTPStatus

from starlette.types import ASGIApp, Message, Receive, Scope, Send

INVALID_REQUEST = -32600


class JsonTransportErrorsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        held: Message | None = None
        chunks: list[bytes] = []

        async def guarded_send(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start":
                status = int(message["status"])
                content_type = next((v for k, v in message.get("headers", []) if k.lower() == b"content-type"), b"")
                if 400 <= status < 500 and b"json" not in content_type.lower():
                    held = message
                    return
                await send(message)
                return
            if held is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            status = int(held["status"])
            text = b"".join(chunks).decode("utf-8", "replace").strip()[:500] or HTTPStatus(status).phrase
            payload = json.dumps(
                {"jsonrpc": "2.0", "id": None, "error": {"code": INVALID_REQUEST, "message": f"{status}: {text}"}}
            ).encode()
            headers = [
                (k, v) for k, v in held.get("headers", []) if k.lower() not in (b"content-type", b"content-length")
            ]
            headers += [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": payload})

        await self.app(scope, receive, guarded_send)
