"""The gateway's HTTP door: Host/Origin checks, authentication, body size and JSON depth — pure ASGI.

It sits in front of every route (pure ASGI, so streamed responses pass untouched) and, on the MCP
endpoints (``/mcp``, ``/servers/*``, ``/supervisors/*``) and REST (``/mcp/v1/*``, ``/v1/*``):

- refuses a foreign ``Host`` (421) or ``Origin`` (403) — DNS-rebinding protection;
- authenticates ``Authorization: Bearer <jwt>``, ``Authorization: ApiKey <key>`` or ``X-API-Key``
  when auth is configured, answering 401 with ``WWW-Authenticate`` pointing at the RFC 9728
  protected-resource metadata, which it serves at ``/.well-known/oauth-protected-resource[<path>]``;
- refuses a body over ``gateway.max_request_bytes`` (413, ``too_large:`` naming that setting) or nested
  deeper than ``request_limits.max_json_depth`` (400, JSON-RPC ``-32600`` on the MCP endpoints);
- counts each refusal for credentials or size in ``mcp_gateway_denied_total`` (the guard counts the
  ones for roles and rate limits);
- puts the :class:`~mesh.security.principal.Principal` in the scope (and, for the SDK's session
  binding, an ``AuthenticatedUser`` as ``scope["user"]``: a session opened with one credential cannot
  be used with another). The credential itself never goes further: upstream requests are built anew.

``/health``, ``/ready`` and ``/openapi.json`` stay open.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import time
from typing import Any

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.shared.auth import ProtectedResourceMetadata
from pydantic import AnyHttpUrl, ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.call.guard import AUTH_TIMING_KEY, PRINCIPAL_KEY, CallGuard
from mesh import tracing
from mesh.asgi_body import replay
from mesh.jsonrpc_envelope import too_large
from mesh.security.api_keys import ApiKeyVerifier
from mesh.security.bind import is_loopback
from mesh.security.http_errors import JsonTransportErrorsMiddleware
from mesh.security.json_limits import json_depth_exceeds
from mesh.security.principal import ANONYMOUS, Principal
from mesh.security.tokens import TokenError, TokenVerifier

WELL_KNOWN = "/.well-known/oauth-protected-resource"
LOOPBACK_HOSTS = ("127.0.0.1", "127.0.0.1:*", "localhost", "localhost:*", "[::1]", "[::1]:*")
LOOPBACK_ORIGINS = (
    "http://127.0.0.1",
    "http://127.0.0.1:*",
    "http://localhost",
    "http://localhost:*",
    "http://[::1]:*",
)
_MCP_PREFIXES = ("/servers/", "/supervisors/")
_REST_PREFIXES = ("/mcp/v1/", "/v1/")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def _kind(path: str) -> str | None:
    """``mcp``, ``rest`` or None (an open path)."""
    if path.startswith(_REST_PREFIXES):
        return "rest"
    if path == "/mcp" or path.startswith("/mcp/") or path.startswith(_MCP_PREFIXES):
        return "mcp"
    return None


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


async def _respond(send: Send, status: int, body: Any, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    payload = json.dumps(body, separators=(",", ":")).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def _refusal(kind: str, status: int, rest_code: str, rpc_code: int, message: str) -> Any:
    if kind == "rest":
        return {"error": {"code": rest_code, "message": message}}
    return {"jsonrpc": "2.0", "id": None, "error": {"code": rpc_code, "message": message}}


class GatewaySecurityMiddleware:
    def __init__(self, app: ASGIApp, guard: CallGuard, *, host: str, max_body: int) -> None:
        self.app = app
        self.mcp_app = JsonTransportErrorsMiddleware(app)  # the SDK's plain-text 4xx answers become JSON-RPC errors
        self.guard = guard
        self.max_body = max_body
        auth = guard.auth
        self.tokens = TokenVerifier(auth.jwt) if auth.jwt.configured else None
        self.api_keys = ApiKeyVerifier(auth.api_keys)
        limits = guard.request_limits
        loopback = is_loopback(host)
        self.allowed_hosts = limits.allowed_hosts or (LOOPBACK_HOSTS if loopback else ())
        self.allowed_origins = limits.allowed_origins or (LOOPBACK_ORIGINS if loopback else ())
        self.max_depth = limits.max_json_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path == WELL_KNOWN or path.startswith(WELL_KNOWN + "/"):
            await self._metadata(scope, receive, send)
            return
        kind = _kind(path)
        if kind is None:
            await self.app(scope, receive, send)
            return
        refusal = self._foreign(scope)
        if refusal is not None:
            status, message = refusal
            await _respond(send, status, _refusal(kind, status, "forbidden_origin", -32600, message))
            return
        principal = await self._authenticate(scope, send, kind)
        if principal is None:
            return
        scope[PRINCIPAL_KEY] = principal
        if principal.method != "none":
            scope["user"] = _sdk_user(principal, scope)
        if scope["method"] in _BODY_METHODS:
            if kind == "mcp" and not (_header(scope, b"content-type") or b"").lower().startswith(b"application/json"):
                message = "Content-Type must be application/json for JSON-RPC requests"
                await _respond(send, 415, _refusal(kind, 415, "unsupported_media_type", -32600, message))
                return
            body = await self._read_limited(scope, receive, send, kind)
            if body is None:
                return
            receive = replay(body, receive)
        await (self.mcp_app if kind == "mcp" else self.app)(scope, receive, send)

    # ---- DNS rebinding -----------------------------------------------------------------------
    def _foreign(self, scope: Scope) -> tuple[int, str] | None:
        host = (_header(scope, b"host") or b"").decode("latin-1")
        if self.allowed_hosts and not any(fnmatch.fnmatchcase(host, p) for p in self.allowed_hosts):
            return 421, f"host {host!r} is not served here (DNS-rebinding protection); see request_limits.allowed_hosts"
        origin_raw = _header(scope, b"origin")
        if origin_raw is None:
            return None
        origin = origin_raw.decode("latin-1")
        if self.allowed_origins:
            allowed = any(fnmatch.fnmatchcase(origin, p) for p in self.allowed_origins)
        else:  # no list: same origin only
            allowed = origin.partition("://")[2] == host
        if not allowed:
            return 403, f"origin {origin!r} is not allowed; see request_limits.allowed_origins"
        return None

    # ---- authentication ----------------------------------------------------------------------
    async def _authenticate(self, scope: Scope, send: Send, kind: str) -> Principal | None:
        if not self.guard.auth_required:
            return ANONYMOUS
        started = time.time_ns() if tracing.active() else 0
        authorization = (_header(scope, b"authorization") or b"").decode("latin-1").strip()
        api_key = (_header(scope, b"x-api-key") or b"").decode("latin-1").strip()
        scheme, _, credential = authorization.partition(" ")
        credential = credential.strip()
        problem = "no credentials: send Authorization: Bearer <token>, or an API key in X-API-Key"
        principal: Principal | None = None
        presented = False
        if api_key:
            presented = True
            principal = self.api_keys.verify(api_key)
            problem = "the API key is not valid"
        elif scheme.lower() == "apikey" and credential:
            presented = True
            principal = self.api_keys.verify(credential)
            problem = "the API key is not valid"
        elif scheme.lower() == "bearer" and credential:
            presented = True
            if credential.count(".") == 2 and self.tokens is not None:
                try:
                    principal = await self.tokens.verify(credential)
                except TokenError as exc:
                    problem = str(exc)
            else:
                principal = self.api_keys.verify(credential)
                problem = "the bearer credential is neither a valid token nor a valid API key"
        elif authorization:
            presented = True
            problem = "unsupported Authorization scheme; use Bearer or ApiKey"
        method = "api_key" if api_key or scheme.lower() == "apikey" else (scheme.lower() or "none")
        if principal is not None:
            if started:
                attributes = {"mcp_suite.auth.scheme": method, "enduser.id": principal.subject}
                scope[AUTH_TIMING_KEY] = (started, time.time_ns(), attributes)  # a span once the call has one
            return principal
        if started:
            tracing.auth_failure(started, {"mcp_suite.auth.scheme": method}, problem)
        await self._unauthorized(scope, send, kind, problem, presented)
        return None

    def _resource_url(self, scope: Scope, path: str) -> str:
        configured = self.guard.auth.resource_url
        if configured:
            base = configured.rstrip("/").removesuffix("/mcp")
        else:
            host = (_header(scope, b"host") or b"localhost").decode("latin-1")
            base = f"{scope.get('scheme', 'http')}://{host}"
        return base + path

    async def _unauthorized(self, scope: Scope, send: Send, kind: str, problem: str, presented: bool) -> None:
        path = scope["path"] if kind == "mcp" else "/mcp"
        metadata = self._resource_url(scope, WELL_KNOWN + path)
        challenge = f'Bearer realm="mcp-suite", resource_metadata="{metadata}"'
        if presented:
            challenge += f', error="invalid_token", error_description="{problem.replace(chr(34), chr(39))}"'
        headers = [(b"www-authenticate", challenge.encode("latin-1", "replace"))]
        self.guard.gateway.router.metrics.count_denied("unauthenticated")
        if kind == "rest":
            body: Any = {"error": {"code": "unauthorized", "message": problem}}
        else:
            body = {"error": "invalid_token" if presented else "unauthorized", "error_description": problem}
        await _respond(send, 401, body, headers)

    async def _metadata(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.guard.auth_required or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        resource_path = scope["path"][len(WELL_KNOWN) :] or "/mcp"
        auth = self.guard.auth
        servers = list(auth.authorization_servers)
        if not servers and auth.jwt.issuer and auth.jwt.issuer.startswith(("http://", "https://")):
            servers = [auth.jwt.issuer]
        resource = self._resource_url(scope, resource_path)
        body: dict[str, Any] = {
            "resource": resource,
            "bearer_methods_supported": ["header"],
            "resource_name": "mcp-suite gateway",
        }
        if servers:
            try:
                model = ProtectedResourceMetadata(
                    resource=AnyHttpUrl(resource),
                    authorization_servers=[AnyHttpUrl(s) for s in servers],
                    resource_name="mcp-suite gateway",
                )
                body = model.model_dump(mode="json", exclude_none=True)
            except ValidationError:
                pass  # a malformed Host header: answer the plain document
        await _respond(send, 200, body, [(b"cache-control", b"max-age=300")])

    # ---- body limits -------------------------------------------------------------------------
    async def _read_limited(self, scope: Scope, receive: Receive, send: Send, kind: str) -> bytes | None:
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            await self._too_large(send, kind)
            return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None  # the client went away
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                await self._too_large(send, kind)
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if json_depth_exceeds(body, self.max_depth):
            message_text = f"the JSON body nests deeper than {self.max_depth} levels; flatten the request"
            await _respond(send, 400, _refusal(kind, 400, "too_deep", -32600, message_text))
            return None
        return body

    async def _too_large(self, send: Send, kind: str) -> None:
        problem = too_large(self.max_body, "gateway.max_request_bytes")
        self.guard.gateway.router.metrics.count_denied("too_large")
        await _respond(send, 413, _refusal(kind, 413, "payload_too_large", problem.code, problem.message))


def _sdk_user(principal: Principal, scope: Scope) -> AuthenticatedUser:
    """What the SDK compares to bind a session to the credential that opened it (no raw token kept)."""
    fingerprint = hashlib.sha256(f"{principal.method}:{principal.issuer}:{principal.subject}".encode()).hexdigest()
    return AuthenticatedUser(
        AccessToken(
            token=fingerprint,
            client_id=principal.subject,
            scopes=list(principal.roles),
            expires_at=principal.expires_at,
            subject=principal.subject,
            claims={"iss": principal.issuer} if principal.issuer else None,
        )
    )
