"""The gateway-to-server shared credential (``auth.upstream_secret``).

The gateway sends the secret in the ``X-MCP-Suite-Upstream`` header on every upstream request; a server
configured with the same secret answers any other request with 401 (JSON body), except ``GET /health``
and ``GET /metrics`` which stay open for probes and scrapers. The comparison is constant-time.
"""

from __future__ import annotations

import hmac
import json

from starlette.types import ASGIApp, Receive, Scope, Send

UPSTREAM_HEADER = "x-mcp-suite-upstream"
OPEN_PATHS = frozenset({"/health", "/metrics"})


def upstream_headers(secret: str | None) -> dict[str, str]:
    """The headers the gateway adds to every upstream request."""
    return {UPSTREAM_HEADER: secret} if secret else {}


class UpstreamSecretMiddleware:
    """Pure ASGI (streaming-safe): refuse requests without the shared secret, except the open paths."""

    def __init__(self, app: ASGIApp, secret: str) -> None:
        self.app = app
        self._secret = secret.encode()
        self._header = UPSTREAM_HEADER.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (scope["method"] == "GET" and scope["path"] in OPEN_PATHS):
            await self.app(scope, receive, send)
            return
        presented = next((v for k, v in scope["headers"] if k == self._header), b"")
        if hmac.compare_digest(presented, self._secret):
            await self.app(scope, receive, send)
            return
        body = json.dumps(
            {
                "error": {
                    "code": "unauthorized",
                    "message": "this server only answers the mcp-suite gateway (missing or wrong upstream credential)",
                }
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", b'MCPSuiteUpstream realm="mcp-suite"'),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
