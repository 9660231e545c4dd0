"""The settings model: a YAML file plus ``MCP_SUITE_*`` environment overrides over embedded defaults.

Where the file comes from, first match wins: ``--config FILE``, ``$MCP_SUITE_CONFIG``,
``./mcp-suite.yaml``. With no file at all the embedded defaults apply. Environment variables
override the file; nested keys use ``__`` (``MCP_SUITE_GATEWAY__PORT=9000``).

An invalid file is refused with :class:`ConfigError`, whose message names the key, the value
and what is allowed, so a command line can print it instead of a traceback.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from mesh.security.settings import (
    AuditSettings,
    AuthSettings,
    RateLimitSettings,
    RequestLimitSettings,
    RoleSettings,
    check_role_names,
)

ENV_PREFIX = "MCP_SUITE_"
CONFIG_ENV = "MCP_SUITE_CONFIG"
DEFAULT_CONFIG_FILE = "mcp-suite.yaml"

SERVER_NAMES: tuple[str, ...] = ("filesystem", "database", "vectorstore", "memory", "search", "aiml")
GATEWAY_PORT = 8500
DEFAULT_PORTS: dict[str, int] = {name: GATEWAY_PORT + 1 + i for i, name in enumerate(SERVER_NAMES)}

DEFAULT_DENY_GLOBS: tuple[str, ...] = (".env*", ".git/", "*.pem", "*.key", "id_*")

LogLevel = Literal["debug", "info", "warning", "error"]


EventLoop = Literal["auto", "uvloop", "asyncio"]


class ConfigError(Exception):
    """The configuration cannot be used; the message says which key, which value, and what is allowed."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerSettings(_Strict):
    """Where one server listens when it runs over streamable HTTP."""

    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535)


class FilesystemRoot(_Strict):
    """One directory the operator allows: ``rw`` (read-write) or ``ro`` (read-only)."""

    path: Path
    mode: Literal["rw", "ro"] = "rw"

    @field_validator("path")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        text = str(value)
        if "\x00" in text:
            raise ValueError("a root path may not contain a NUL byte")
        return Path(os.path.expanduser(text)).absolute()


class FilesystemSettings(ServerSettings):
    port: int = Field(default=DEFAULT_PORTS["filesystem"], ge=0, le=65535)
    roots: tuple[FilesystemRoot, ...] = ()
    deny: tuple[str, ...] = DEFAULT_DENY_GLOBS
    max_read_bytes: int = Field(default=256 * 1024, ge=1024)
    max_media_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    max_write_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    max_results: int = Field(default=500, ge=1)
    trash_dir: Path | None = None
    default_read_bytes: int = Field(default=64 * 1024, ge=1024)
    max_scan_entries: int = Field(default=100_000, ge=100)
    max_grep_file_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    search_timeout_seconds: float = Field(default=20.0, gt=0, le=600)


DatabaseAccess = Literal["read_only", "read_write", "admin"]
DatabaseEngine = Literal["postgres", "sqlite", "redis", "neo4j"]
CONNECTION_NAME_PATTERN = r"^[a-zA-Z0-9_-]{1,32}$"
_ENGINE_BY_SCHEME: dict[str, DatabaseEngine] = {
    "postgresql": "postgres",
    "postgres": "postgres",
    "sqlite": "sqlite",
    "redis": "redis",
    "rediss": "redis",
    "neo4j": "neo4j",
    "neo4j+s": "neo4j",
    "neo4j+ssc": "neo4j",
    "bolt": "neo4j",
    "bolt+s": "neo4j",
    "bolt+ssc": "neo4j",
}


class DatabaseConnection(_Strict):
    """One named connection: the URL's scheme picks the engine; ``access`` defaults to read-only.

    The URL may hold a password: it is a secret, never shown in results, logs or errors.
    """

    url: SecretStr
    access: DatabaseAccess = "read_only"
    statement_timeout_ms: int = Field(default=5_000, ge=1, le=3_600_000)
    max_rows: int = Field(default=500, ge=1, le=100_000)
    max_bytes: int = Field(default=256 * 1024, ge=1024, le=64 * 1024 * 1024)
    read_only_role: str | None = Field(
        default=None, max_length=63, description="PostgreSQL: a role every read runs as (SET LOCAL ROLE)"
    )

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, value: SecretStr) -> SecretStr:
        scheme = value.get_secret_value().partition("://")[0].lower()
        if scheme not in _ENGINE_BY_SCHEME:
            known = ", ".join(f"{name}://" for name in sorted(_ENGINE_BY_SCHEME))
            raise ValueError(f"a connection url must start with one of {known} (got scheme {scheme!r})")
        return value

    @property
    def engine(self) -> DatabaseEngine:
        return _ENGINE_BY_SCHEME[self.url.get_secret_value().partition("://")[0].lower()]


class DatabaseSettings(ServerSettings):
    """The database server: named connections. With none configured, a read-write SQLite workspace under the data dir."""

    port: int = Field(default=DEFAULT_PORTS["database"], ge=0, le=65535)
    connections: dict[str, DatabaseConnection] = Field(default_factory=dict)
    schema_cache_seconds: float = Field(default=30.0, ge=0, le=3600)
    pool_size: int = Field(default=10, ge=1, le=200, description="connections per PostgreSQL pool")

    @field_validator("connections")
    @classmethod
    def _names(cls, value: dict[str, DatabaseConnection]) -> dict[str, DatabaseConnection]:
        for name in value:
            if not re.match(CONNECTION_NAME_PATTERN, name):
                raise ValueError(f"connection name {name!r} must match {CONNECTION_NAME_PATTERN}")
        return value


Strategy = Literal["round_robin", "least_connections", "consistent_hash", "p2c"]


class BreakerPolicy(_Strict):
    """Circuit-breaker thresholds; unset fields inherit from the level above."""

    failure_threshold: int | None = Field(default=None, ge=1, description="consecutive failures that open it")
    failure_ratio: float | None = Field(default=None, gt=0, le=1, description="failure ratio over the window")
    window: int | None = Field(default=None, ge=1, description="calls in the rolling window")
    min_calls: int | None = Field(default=None, ge=1, description="calls before the ratio counts")
    cooldown_seconds: float | None = Field(default=None, gt=0, description="open time before one trial call")


class Policy(_Strict):
    """Limits set at gateway, supervisor, server or tool level; for each field the nearest level that sets it wins."""

    max_concurrent: int | None = Field(default=None, ge=1, description="calls in flight at once (a bulkhead)")
    queue_limit: int | None = Field(default=None, ge=0, description="calls waiting for a slot; more is 'busy'")
    priority: int | None = Field(default=None, ge=-100, le=100, description="queue priority, higher first")
    timeout_seconds: float | None = Field(default=None, gt=0, le=3600, description="deadline of one call")
    retries: int | None = Field(default=None, ge=0, le=3, description="retries on another instance, safe tools only")
    breaker: BreakerPolicy = BreakerPolicy()


DEFAULT_POLICY = Policy(
    max_concurrent=64,
    queue_limit=256,
    priority=0,
    timeout_seconds=60.0,
    retries=1,
    breaker=BreakerPolicy(failure_threshold=5, failure_ratio=0.5, window=20, min_calls=10, cooldown_seconds=10.0),
)


class ServerGroupSettings(_Strict):
    """How the gateway treats the instances of one upstream server."""

    strategy: Strategy = "round_robin"
    hash_argument: str | None = Field(default=None, description="tool argument hashed by consistent_hash")
    policy: Policy = Policy()
    tools: dict[str, Policy] = Field(default_factory=dict, description="per-tool policies, by upstream tool name")


class SupervisorSettings(_Strict):
    """A named group of servers (and single tools) served at /supervisors/<name>/mcp with its own policy."""

    servers: tuple[str, ...] = ()
    tools: tuple[str, ...] = Field(default=(), description="glob patterns over gateway tool names")
    include_gateway_tools: bool = False
    policy: Policy = Policy()


DEFAULT_SUPERVISORS: dict[str, SupervisorSettings] = {
    "intelligence": SupervisorSettings(servers=("aiml", "memory", "vectorstore", "search")),
    "multimodal": SupervisorSettings(
        tools=("filesystem_read_media_file", "aiml_*vision*", "aiml_*image*", "aiml_*audio*", "aiml_*transcribe*")
    ),
    "system": SupervisorSettings(servers=("filesystem", "database"), include_gateway_tools=True),
}


class GatewaySettings(ServerSettings):
    port: int = Field(default=GATEWAY_PORT, ge=0, le=65535)
    policy: Policy = DEFAULT_POLICY
    servers: dict[str, ServerGroupSettings] = Field(default_factory=dict)
    supervisors: dict[str, SupervisorSettings] = Field(default_factory=lambda: dict(DEFAULT_SUPERVISORS))
    refresh_interval_seconds: float = Field(default=5.0, gt=0, le=3600)
    connect_timeout_seconds: float = Field(default=5.0, gt=0, le=120)
    max_request_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)


class StaticInstance(_Strict):
    """One upstream instance: ``url`` (streamable HTTP) or ``command`` + ``args`` + ``env`` (stdio)."""

    url: str | None = None
    command: str | None = None
    args: tuple[str, ...] = ()
    env: dict[str, str] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("an instance url must start with http:// or https://")
        return value

    def model_post_init(self, _context: Any) -> None:
        if (self.url is None) == (self.command is None):
            raise ValueError("an instance needs exactly one of 'url' or 'command'")


class ConsulSettings(_Strict):
    """Where Consul is and how to talk to it; unset fields fall back to Consul's own CONSUL_* variables."""

    address: str | None = Field(
        default=None, description="host:port or URL; else $CONSUL_HTTP_ADDR, else 127.0.0.1:8500"
    )
    token: SecretStr | None = Field(default=None, description="ACL token; else $CONSUL_HTTP_TOKEN")
    datacenter: str | None = None
    ca_file: Path | None = Field(default=None, description="else $CONSUL_CACERT")
    cert_file: Path | None = Field(default=None, description="else $CONSUL_CLIENT_CERT")
    key_file: Path | None = Field(default=None, description="else $CONSUL_CLIENT_KEY")
    verify: bool | None = Field(default=None, description="else $CONSUL_HTTP_SSL_VERIFY (default true)")
    service_prefix: str = "mcp-"
    kv_prefix: str = Field(default="mcp-suite/", description="KV prefix holding live gateway settings")
    watch_wait_seconds: float = Field(default=30.0, gt=0, le=600, description="blocking-query wait")
    check_interval_seconds: float = Field(default=5.0, gt=0, le=600)
    check_timeout_seconds: float = Field(default=2.0, gt=0, le=600)
    deregister_critical_after_seconds: float = Field(default=60.0, ge=60, le=86_400)
    advertise_address: str | None = Field(default=None, description="address registered for this process")


class RegistrySettings(_Strict):
    kind: Literal["static", "consul"] = Field(
        default="static", description="'consul' also when $CONSUL_HTTP_ADDR is set"
    )
    static: dict[str, tuple[StaticInstance, ...]] = Field(default_factory=dict)
    consul: ConsulSettings = ConsulSettings()

    @field_validator("static", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {name: [item] if isinstance(item, dict) else item for name, item in value.items()}
        return value


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "mcp-suite"


class Settings(BaseSettings):
    """Everything every process of the suite reads. Frozen: build a new one to change it."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    data_dir: Path = Field(default_factory=default_data_dir)
    log_level: LogLevel = "info"
    shutdown_grace_seconds: float = Field(default=10.0, gt=0, le=600)
    event_loop: EventLoop = Field(default="auto", description="auto: uvloop when installed, else asyncio")
    filesystem: FilesystemSettings = FilesystemSettings()
    database: DatabaseSettings = DatabaseSettings()
    gateway: GatewaySettings = GatewaySettings()
    registry: RegistrySettings = RegistrySettings()
    # Security (gateway/SECURITY.md): who may call, what each role may reach, limits, the audit trail.
    auth: AuthSettings = AuthSettings()
    roles: dict[str, RoleSettings] = Field(default_factory=dict)
    rate_limits: RateLimitSettings = RateLimitSettings()
    audit: AuditSettings = AuditSettings()
    request_limits: RequestLimitSettings = RequestLimitSettings()

    @field_validator("roles")
    @classmethod
    def _role_names(cls, value: dict[str, RoleSettings]) -> dict[str, RoleSettings]:
        return check_role_names(value)

    @field_validator("registry", mode="before")
    @classmethod
    def _registry_shorthand(cls, value: Any) -> Any:
        # ``registry: consul`` (or ``static``) is short for ``registry: {kind: consul}``.
        return {"kind": value} if isinstance(value, str) else value

    @field_validator("data_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return Path(os.path.expanduser(str(value))).absolute()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Explicit values (the parsed file, command-line flags) sit under the environment, which
        # wins: an operator's MCP_SUITE_* variable overrides what a file in the repository says.
        return (env_settings, init_settings)


def find_config_file(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The file to read: ``explicit``, then ``$MCP_SUITE_CONFIG``, then ``./mcp-suite.yaml`` if present."""
    if explicit:
        return Path(explicit)
    from_env = os.environ.get(CONFIG_ENV)
    if from_env:
        return Path(from_env)
    local = Path.cwd() / DEFAULT_CONFIG_FILE
    return local if local.is_file() else None


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"config file {path} is not valid YAML{where}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of keys at the top level, not {type(data).__name__}")
    return data


_SECRET_KEY_WORDS = ("url", "token", "secret", "password", "key")


def describe_validation_error(exc: ValidationError, origin: str) -> str:
    """One line per problem: ``key: value 'x' is not allowed: <what is>``."""
    lines = [f"invalid configuration in {origin}:"]
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"]) or "(top level)"
        value = error.get("input")
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            lines.append(f"  {key}: unknown key (check the spelling; see the README's configuration table)")
        elif error["type"] == "missing":
            lines.append(f"  {key}: required but missing")
        else:
            secret = any(word in key.lower() for word in _SECRET_KEY_WORDS)
            shown = "'***'" if secret else repr(value) if not isinstance(value, dict) else "{...}"
            lines.append(f"  {key} = {shown}: {message}")
    return "\n".join(lines)


def load_settings(config: str | os.PathLike[str] | None = None, **overrides: Any) -> Settings:
    """Build the settings from the config file (if any), the environment and ``overrides``.

    ``overrides`` are top-level keys (e.g. from command-line flags); they sit at the same level as
    the file and are merged into it one section deep.
    """
    path = find_config_file(config)
    data: dict[str, Any] = _read_yaml(path) if path else {}
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    origin = str(path) if path else "the environment"
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, origin)) from None
