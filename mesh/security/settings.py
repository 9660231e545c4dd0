"""The security sections of the settings: ``auth``, ``roles``, ``rate_limits``, ``audit``, ``request_limits``.

Imported by :mod:`mesh.config` (which puts them on :class:`~mesh.config.Settings`); they import
nothing from the suite themselves. Every secret is a :class:`~pydantic.SecretStr`: it prints as
``**********`` and never reaches a log line or an error message.
"""

from __future__ import annotations

import getpass
import os
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

ROLE_NAME_PATTERN = r"^[a-zA-Z0-9_.:-]{1,64}$"
HS_ALGORITHMS = ("HS256", "HS384", "HS512")
ASYMMETRIC_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class JwtSettings(_Strict):
    """How bearer tokens are verified. ``secret`` (HMAC) and ``public_key``/``jwks_url`` (asymmetric) may coexist:
    the algorithm in a token's header picks the key, and each key accepts only its own family."""

    secret: SecretStr | None = Field(default=None, description="HS256 shared secret (at least 32 bytes)")
    public_key: str | None = Field(default=None, description="PEM public key (RSA, EC or Ed25519) for RS*/ES*/EdDSA")
    jwks_url: str | None = Field(default=None, description="JWKS document URL (keys fetched and cached by kid)")
    jwks_cache_seconds: float = Field(default=300.0, gt=0, le=86_400)
    audience: str | None = Field(default=None, description="required 'aud' claim")
    issuer: str | None = Field(default=None, description="required 'iss' claim")
    algorithms: tuple[str, ...] = Field(
        default=("HS256", "RS256", "ES256"), description="accepted 'alg' values, further pinned per key type"
    )
    leeway_seconds: float = Field(default=30.0, ge=0, le=300, description="clock skew allowed on exp/nbf")
    roles_claim: str = Field(default="roles", description="claim holding the role list (or a space-separated string)")

    @field_validator("secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().encode()) < 32:
            raise ValueError("an HS256 secret must be at least 32 bytes; generate one with `openssl rand -hex 32`")
        return value

    @field_validator("algorithms")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        known = HS_ALGORITHMS + ASYMMETRIC_ALGORITHMS
        for alg in value:
            if alg not in known:
                raise ValueError(f"algorithm {alg!r} is not accepted; use some of {', '.join(known)} ('none' never is)")
        return value

    @field_validator("public_key")
    @classmethod
    def _pem(cls, value: str | None) -> str | None:
        if value is not None and "-----BEGIN" not in value:
            raise ValueError("public_key must be a PEM block (-----BEGIN PUBLIC KEY----- ...)")
        return value

    @property
    def configured(self) -> bool:
        return self.secret is not None or self.public_key is not None or self.jwks_url is not None


class ApiKeyEntry(_Strict):
    """One API key, stored as the hex SHA-256 of the key (``mcp-suite`` never stores the key itself)."""

    name: str = Field(min_length=1, max_length=64, description="who holds the key: the principal's subject")
    sha256: SecretStr = Field(description="hex SHA-256 of the key (python -m mesh.security.api_keys hash)")
    roles: tuple[str, ...] = ()

    @field_validator("sha256")
    @classmethod
    def _hex(cls, value: SecretStr) -> SecretStr:
        if not re.fullmatch(r"[0-9a-f]{64}", value.get_secret_value().lower()):
            raise ValueError("sha256 must be 64 hex digits: the SHA-256 of the key, not the key")
        return SecretStr(value.get_secret_value().lower())


def readable_file(value: Path | None) -> Path | None:
    """``value`` as an absolute path to a regular file this process can read; a ValueError saying why not."""
    if value is None:
        return None
    path = Path(os.path.expanduser(str(value))).absolute()
    if not path.exists():
        raise ValueError(f"file {path} does not exist")
    if not path.is_file():
        raise ValueError(f"{path} is not a regular file")
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise ValueError(f"file {path} cannot be read: {exc.strerror}") from None
    return path


class TlsListenerSettings(_Strict):
    """How a process listens over TLS: ``auth.tls`` for every server, ``auth.gateway_tls`` for the gateway.

    With ``client_cert_required`` (the default) the TLS handshake refuses any client without a
    certificate signed by ``ca_file``: mutual TLS. PEM files; checked when the settings load.
    """

    cert_file: Path = Field(description="PEM certificate chain this process presents, its own certificate first")
    key_file: Path = Field(description="PEM private key of cert_file")
    key_password: SecretStr | None = Field(default=None, description="password of an encrypted key_file")
    ca_file: Path | None = Field(default=None, description="PEM CA bundle that signs the clients' certificates")
    client_cert_required: bool = Field(
        default=True, description="refuse clients without a certificate signed by ca_file (mutual TLS)"
    )

    @field_validator("cert_file", "key_file", "ca_file")
    @classmethod
    def _readable(cls, value: Path | None) -> Path | None:
        return readable_file(value)

    @model_validator(mode="after")
    def _required_needs_ca(self) -> TlsListenerSettings:
        if self.client_cert_required and self.ca_file is None:
            raise ValueError(
                "client_cert_required needs ca_file: the CA that signs the client certificates "
                "(or set client_cert_required: false for server-only TLS)"
            )
        return self


class TlsClientSettings(_Strict):
    """How the gateway dials servers at https:// URLs (``auth.upstream_tls``): whom to trust, what to present."""

    ca_file: Path | None = Field(
        default=None, description="PEM CA bundle that signs the servers' certificates (default: the system's)"
    )
    cert_file: Path | None = Field(default=None, description="PEM client certificate chain for mutual TLS")
    key_file: Path | None = Field(default=None, description="PEM private key of cert_file")
    key_password: SecretStr | None = Field(default=None, description="password of an encrypted key_file")

    @field_validator("cert_file", "key_file", "ca_file")
    @classmethod
    def _readable(cls, value: Path | None) -> Path | None:
        return readable_file(value)

    @model_validator(mode="after")
    def _pair(self) -> TlsClientSettings:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together: set both for mutual TLS, or neither")
        return self


def local_user_name() -> str:
    """The name of the user running this process (``$LOGNAME``, ``$USER``..., else the password database), or "local"."""
    try:
        return getpass.getuser() or "local"
    except (OSError, KeyError):
        return "local"


class StdioPrincipalSettings(_Strict):
    """Who a stdio gateway session acts as: no credential travels over stdio, the local user launched it."""

    subject: str = Field(
        default_factory=local_user_name,
        min_length=1,
        max_length=64,
        description="the principal's subject in audit records and rate-limit buckets (default: the local user name)",
    )
    roles: tuple[str, ...] = Field(default=(), description="roles the stdio session holds (none: default deny)")


class AuthSettings(_Strict):
    """Who may call the gateway (``jwt``, ``api_keys``, ``stdio``) and how the gateway proves itself to servers."""

    jwt: JwtSettings = JwtSettings()
    api_keys: tuple[ApiKeyEntry, ...] = ()
    stdio: StdioPrincipalSettings | None = Field(
        default=None,
        description="the principal of `mcp-suite gateway --transport stdio` sessions, subject to roles",
    )
    upstream_secret: SecretStr | None = Field(
        default=None,
        description="shared credential the gateway sends to servers; a server with it refuses calls without",
    )
    tls: TlsListenerSettings | None = Field(
        default=None, description="servers listen over TLS; with client certificates required: mutual TLS"
    )
    upstream_tls: TlsClientSettings | None = Field(
        default=None, description="the gateway's TLS towards https:// servers: CA to trust, client certificate"
    )
    gateway_tls: TlsListenerSettings | None = Field(
        default=None, description="the gateway's own HTTP endpoint listens over TLS"
    )
    resource_url: str | None = Field(
        default=None, description="public URL of the gateway's /mcp (RFC 9728 'resource'); default from the request"
    )
    authorization_servers: tuple[str, ...] = Field(
        default=(), description="OAuth authorization servers in the RFC 9728 metadata (default: the JWT issuer)"
    )

    @field_validator("upstream_secret")
    @classmethod
    def _upstream_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().encode()) < 16:
            raise ValueError("upstream_secret must be at least 16 bytes; generate one with `openssl rand -hex 32`")
        return value

    @model_validator(mode="after")
    def _unique_key_names(self) -> AuthSettings:
        names = [key.name for key in self.api_keys]
        if len(names) != len(set(names)):
            raise ValueError("api_keys: every key needs its own name")
        return self

    @property
    def configured(self) -> bool:
        """Whether callers must authenticate (some JWT key or some API key is configured)."""
        return self.jwt.configured or bool(self.api_keys)

    @property
    def server_protected(self) -> bool:
        """Whether a server refuses callers that are not the gateway: the upstream secret, or mutual TLS."""
        return self.upstream_secret is not None or (self.tls is not None and self.tls.client_cert_required)


class RuleSet(_Strict):
    """Glob patterns over namespaced names: ``filesystem_read_*``, ``prompt:database_*``, ``resource:file://*``."""

    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()


class RoleSettings(RuleSet):
    """A role: rules over the whole catalog, plus rules scoped to a supervisor's group or to one server's items."""

    supervisors: dict[str, RuleSet] = Field(default_factory=dict)
    servers: dict[str, RuleSet] = Field(default_factory=dict)


class BucketSettings(_Strict):
    """A token bucket: ``rate`` tokens per second, holding at most ``burst``."""

    rate: float = Field(gt=0, le=1_000_000)
    burst: float = Field(ge=1, le=1_000_000)


class RateLimitSettings(_Strict):
    """Token buckets per principal, per tool (glob over gateway tool names) and per supervisor."""

    backend: Literal["memory", "redis"] = "memory"
    redis_url: SecretStr | None = Field(default=None, description="redis://[:password@]host:port/db for backend redis")
    key_prefix: str = Field(default="mcp-suite:ratelimit:", max_length=128)
    per_principal: BucketSettings | None = None
    per_tool: dict[str, BucketSettings] = Field(default_factory=dict, description="glob over tool names -> bucket")
    per_supervisor: dict[str, BucketSettings] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _redis_needs_url(self) -> RateLimitSettings:
        if self.backend == "redis" and self.redis_url is None:
            raise ValueError("rate_limits.backend 'redis' needs rate_limits.redis_url")
        return self

    @property
    def configured(self) -> bool:
        return self.per_principal is not None or bool(self.per_tool) or bool(self.per_supervisor)


class AuditSettings(_Strict):
    """Where the audit trail goes: a JSON-lines file (default ``<data_dir>/audit.jsonl``) and/or PostgreSQL."""

    enabled: bool = True
    path: Path | None = Field(default=None, description="JSON-lines file; default <data_dir>/audit.jsonl")
    fsync_interval_seconds: float = Field(default=1.0, ge=0, le=3600, description="0 = fsync after every line")
    postgres_url: SecretStr | None = None
    postgres_table: str = Field(default="mcp_audit", pattern=r"^[a-zA-Z_][a-zA-Z0-9_]{0,62}$")


class RequestLimitSettings(_Strict):
    """Input limits of the gateway's HTTP endpoints (the body-size limit is ``gateway.max_request_bytes``)."""

    max_json_depth: int = Field(default=64, ge=2, le=1000)
    validate_arguments: bool = Field(default=True, description="check tool arguments against inputSchema")
    allowed_hosts: tuple[str, ...] = Field(
        default=(),
        description="Host header globs ('gw.example.com', 'gw.example.com:*'); loopback binds default to loopback",
    )
    allowed_origins: tuple[str, ...] = Field(
        default=(),
        description="Origin globs accepted when a request carries Origin; loopback binds default to loopback",
    )


def check_role_names(roles: dict[str, RoleSettings]) -> dict[str, RoleSettings]:
    for name in roles:
        if not re.match(ROLE_NAME_PATTERN, name):
            raise ValueError(f"role name {name!r} must match {ROLE_NAME_PATTERN}")
    return roles
