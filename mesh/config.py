"""The settings model: a YAML file plus ``MCP_SUITE_*`` environment overrides over embedded defaults.

Where the file comes from, first match wins: ``--config FILE``, ``$MCP_SUITE_CONFIG``,
``./mcp-suite.yaml``. With no file at all the embedded defaults apply. Environment variables
override the file; nested keys use ``__`` (``MCP_SUITE_GATEWAY__PORT=9000``).

Each server and the gateway own their section (``filesystem:``, ``gateway:``...): its model lives
in the owner's package, and the process that loads the settings names the sections it knows
(:func:`load_settings`'s ``sections``), so adding a server changes nothing here. A section is
read with :func:`section`.

An invalid file is refused with :class:`ConfigError`, whose message names the key, the value
and what is allowed, so a command line can print it instead of a traceback.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, create_model, field_validator
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

LogLevel = Literal["debug", "info", "warning", "error"]


EventLoop = Literal["auto", "uvloop", "asyncio"]


class ConfigError(Exception):
    """The configuration cannot be used; the message says which key, which value, and what is allowed."""


class StrictModel(BaseModel):
    """A settings model that refuses unknown keys and cannot be changed once built."""

    model_config = ConfigDict(extra="forbid", frozen=True)


SectionModel = TypeVar("SectionModel", bound=BaseModel)
Sections = Mapping[str, type[BaseModel]]


class ServerSettings(StrictModel):
    """Where one server listens when it runs over streamable HTTP."""

    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535)


class StaticInstance(StrictModel):
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


class ConsulSettings(StrictModel):
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


class RegistrySettings(StrictModel):
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
    fast_path: bool = Field(default=True, description="servers answer qualifying stateless tool calls directly")
    registry: RegistrySettings = RegistrySettings()
    # Security (docs/security.md): who may call, what each role may reach, limits, the audit trail.
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


@functools.cache
def _with_sections(sections: tuple[tuple[str, type[BaseModel]], ...]) -> type[Settings]:
    fields: dict[str, Any] = {name: (model, Field(default_factory=model)) for name, model in sections}
    return create_model("Settings", __base__=Settings, **fields)


def settings_model(sections: Sections) -> type[Settings]:
    """:class:`Settings` with a typed section per entry of ``sections`` (name -> model), each defaulting to its model's defaults.

    Raises:
        ValueError: a section name is one of the common keys.
    """
    clash = sorted(set(sections) & set(Settings.model_fields))
    if clash:
        raise ValueError(f"section names {clash} are common settings keys")
    return _with_sections(tuple(sorted(sections.items())))


def section(settings: Settings, name: str, model: type[SectionModel]) -> SectionModel:
    """The section ``name`` of ``settings`` as ``model``; its defaults when the settings were loaded without it.

    Raises:
        TypeError: the settings hold section ``name`` as another model.
    """
    value = getattr(settings, name, None)
    if value is None:
        return model()
    if not isinstance(value, model):
        raise TypeError(f"settings section {name!r} is a {type(value).__name__}, not a {model.__name__}")
    return value


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
            lines.append(f"  {key}: unknown key (check the spelling; see docs/configuration.md)")
        elif error["type"] == "missing":
            lines.append(f"  {key}: required but missing")
        else:
            secret = any(word in key.lower() for word in _SECRET_KEY_WORDS)
            shown = "'***'" if secret else repr(value) if not isinstance(value, dict) else "{...}"
            lines.append(f"  {key} = {shown}: {message}")
    return "\n".join(lines)


def load_settings(
    config: str | os.PathLike[str] | None = None, *, sections: Sections | None = None, **overrides: Any
) -> Settings:
    """Build the settings from the config file (if any), the environment and ``overrides``.

    ``sections`` are the owned sections this process knows (name -> model; see :func:`settings_model`);
    a key that is neither a common setting nor one of them is refused. ``overrides`` are top-level
    keys (e.g. from command-line flags); they sit at the same level as the file and are merged into
    it one section deep.

    Raises:
        ConfigError: the file cannot be read or parsed, or a value is not allowed.
    """
    path = find_config_file(config)
    data: dict[str, Any] = _read_yaml(path) if path else {}
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    origin = str(path) if path else "the environment"
    model = settings_model(sections) if sections else Settings
    try:
        return model(**data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, origin)) from None
