"""Talking to Consul's HTTP API: where it is, how to authenticate, one pooled client per process.

Where Consul is comes from the settings (``registry.consul``) first, then Consul's own
environment variables, the same ones the ``consul`` CLI reads: ``CONSUL_HTTP_ADDR``,
``CONSUL_HTTP_TOKEN`` (or ``CONSUL_HTTP_TOKEN_FILE``), ``CONSUL_HTTP_SSL``,
``CONSUL_HTTP_SSL_VERIFY``, ``CONSUL_CACERT``, ``CONSUL_CAPATH``, ``CONSUL_CLIENT_CERT``,
``CONSUL_CLIENT_KEY`` and ``CONSUL_TLS_SERVER_NAME``. The token travels as ``X-Consul-Token``,
never in a URL, and never appears in a log line or an error message.

:class:`ConsulHttp` keeps one keep-alive ``httpx.AsyncClient`` for blocking queries and agent calls
made from the event loop, and one ``httpx.Client`` for the few synchronous calls (a server's
register/deregister, run off the event loop), both with the same base URL, TLS and headers.
"""

from __future__ import annotations

import json
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from mesh.config import ConsulSettings

DEFAULT_ADDRESS = "127.0.0.1:8500"
TOKEN_HEADER = "X-Consul-Token"  # noqa: S105 - a header name, not a secret
INDEX_HEADER = "X-Consul-Index"
# Set (to "true") when ACLs removed entries the token may not read: with default_policy=deny a token
# lacking service:read or key:read gets 200 (or 404 on KV) and a short or empty list, not 403.
FILTERED_HEADER = "X-Consul-Results-Filtered-By-ACLs"
_TRUE = ("1", "true", "yes", "on")


class ConsulUnavailable(Exception):
    """Consul could not be reached or answered with a server error; the reason says which."""


class ConsulRefused(Exception):
    """Consul refused the request (a 4xx answer): an unknown token, a missing write right, or a bad request.

    A read the token lacks the right for is no refusal: Consul answers it filtered (see FILTERED_HEADER).
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def filtered_reason(name: str, rule: str) -> str:
    """Why an answer about ``name`` is incomplete: the ACL rule the token lacks."""
    return (
        f"Consul filtered the answer for {name!r} by ACLs (X-Consul-Results-Filtered-By-ACLs): "
        f"the token lacks {rule} on it; grant that rule to the token (CONSUL_HTTP_TOKEN or registry.consul.token)"
    )


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in _TRUE


@dataclass(frozen=True)
class ConsulEndpoint:
    """Everything needed to reach one Consul agent, resolved from the settings and the environment."""

    base_url: str
    token: str | None = None
    datacenter: str | None = None
    ca_file: str | None = None
    ca_path: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    verify: bool = True
    server_name: str | None = None

    @classmethod
    def from_settings(cls, settings: ConsulSettings, environ: Mapping[str, str] | None = None) -> ConsulEndpoint:
        env = os.environ if environ is None else environ
        address = (settings.address or env.get("CONSUL_HTTP_ADDR") or DEFAULT_ADDRESS).strip()
        if address.startswith("unix://"):
            raise ValueError("a unix:// Consul address is not supported; give host:port or an http(s):// URL")
        if "://" in address:
            scheme, _, rest = address.partition("://")
            if scheme not in ("http", "https"):
                raise ValueError(f"a Consul address must be host:port or an http(s):// URL (got scheme {scheme!r})")
        else:
            scheme, rest = ("https" if _flag(env.get("CONSUL_HTTP_SSL"), False) else "http"), address
        token = settings.token.get_secret_value() if settings.token is not None else env.get("CONSUL_HTTP_TOKEN")
        token_file = env.get("CONSUL_HTTP_TOKEN_FILE")
        if not token and token_file:
            token = Path(token_file).read_text(encoding="utf-8").strip()
        return cls(
            base_url=f"{scheme}://{rest.rstrip('/')}",
            token=token or None,
            datacenter=settings.datacenter,
            ca_file=str(settings.ca_file) if settings.ca_file else env.get("CONSUL_CACERT") or None,
            ca_path=env.get("CONSUL_CAPATH") or None,
            cert_file=str(settings.cert_file) if settings.cert_file else env.get("CONSUL_CLIENT_CERT") or None,
            key_file=str(settings.key_file) if settings.key_file else env.get("CONSUL_CLIENT_KEY") or None,
            verify=settings.verify if settings.verify is not None else _flag(env.get("CONSUL_HTTP_SSL_VERIFY"), True),
            server_name=env.get("CONSUL_TLS_SERVER_NAME") or None,
        )

    @property
    def tls(self) -> bool:
        return self.base_url.startswith("https://")

    def ssl_context(self) -> ssl.SSLContext | bool:
        """What httpx verifies with: a context with the CA and client certificate, or False when verification is off."""
        if not self.tls:
            return True
        context = ssl.create_default_context(cafile=self.ca_file, capath=self.ca_path)
        if not self.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.cert_file:
            context.load_cert_chain(self.cert_file, self.key_file)
        return context

    def headers(self) -> dict[str, str]:
        return {TOKEN_HEADER: self.token} if self.token else {}

    def describe(self) -> str:
        """Where, for logs and errors: the URL and whether a token is set, never the token."""
        return f"{self.base_url} ({'token set' if self.token else 'no token'})"


@dataclass(frozen=True)
class ConsulResponse:
    status: int
    index: int | None
    body: bytes
    filtered: bool = False  # Consul removed entries this token may not read (FILTERED_HEADER)

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


def _index_of(response: httpx.Response) -> int | None:
    raw = response.headers.get(INDEX_HEADER)
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


class ConsulHttp:
    """Requests to one Consul agent over pooled keep-alive connections."""

    def __init__(self, endpoint: ConsulEndpoint, *, timeout: float = 10.0) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self._async: httpx.AsyncClient | None = None
        self._sync: httpx.Client | None = None

    def _options(self) -> dict[str, Any]:
        return {
            "base_url": self.endpoint.base_url,
            "headers": self.endpoint.headers(),
            "verify": self.endpoint.ssl_context(),
            "timeout": httpx.Timeout(self.timeout, connect=min(self.timeout, 3.0)),
            "trust_env": False,
        }

    def _params(self, params: Mapping[str, Any] | None) -> dict[str, Any]:
        merged = dict(params or {})
        if self.endpoint.datacenter and "dc" not in merged:
            merged["dc"] = self.endpoint.datacenter
        return merged

    def _extensions(self) -> dict[str, Any]:
        return {"sni_hostname": self.endpoint.server_name} if self.endpoint.server_name else {}

    def _check(self, method: str, path: str, response: httpx.Response, allow: tuple[int, ...]) -> ConsulResponse:
        if response.status_code >= 500:
            raise ConsulUnavailable(f"{method} {path}: Consul answered {response.status_code}: {response.text[:200]}")
        if response.status_code >= 400 and response.status_code not in allow:
            hint = (
                " (check the ACL token: CONSUL_HTTP_TOKEN or registry.consul.token)"
                if response.status_code in (401, 403)
                else ""
            )
            raise ConsulRefused(
                response.status_code,
                f"{method} {path}: Consul refused with {response.status_code}: {response.text[:200]}{hint}",
            )
        filtered = response.headers.get(FILTERED_HEADER, "").strip().lower() == "true"
        return ConsulResponse(response.status_code, _index_of(response), response.content, filtered)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        timeout: float | None = None,
        allow: tuple[int, ...] = (),
    ) -> ConsulResponse:
        """One request from the event loop; ``allow`` lists 4xx statuses that are answers (e.g. 404 on KV)."""
        if self._async is None:
            self._async = httpx.AsyncClient(**self._options())
        try:
            response = await self._async.request(
                method,
                path,
                params=self._params(params),
                json=json_body,
                content=content,
                timeout=httpx.Timeout(timeout, connect=3.0) if timeout is not None else httpx.USE_CLIENT_DEFAULT,
                extensions=self._extensions(),
            )
        except httpx.HTTPError as exc:
            raise ConsulUnavailable(
                f"{method} {path}: cannot reach Consul at {self.endpoint.base_url}: {type(exc).__name__}: {exc}"
            ) from None
        return self._check(method, path, response, allow)

    def request_sync(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        allow: tuple[int, ...] = (),
    ) -> ConsulResponse:
        """One blocking request, for callers outside the event loop (registration runs in a worker thread)."""
        if self._sync is None:
            self._sync = httpx.Client(**self._options())
        try:
            response = self._sync.request(
                method, path, params=self._params(params), json=json_body, extensions=self._extensions()
            )
        except httpx.HTTPError as exc:
            raise ConsulUnavailable(
                f"{method} {path}: cannot reach Consul at {self.endpoint.base_url}: {type(exc).__name__}: {exc}"
            ) from None
        return self._check(method, path, response, allow)

    async def aclose(self) -> None:
        if self._async is not None:
            await self._async.aclose()
            self._async = None
        self.close()

    def close(self) -> None:
        if self._sync is not None:
            self._sync.close()
            self._sync = None
