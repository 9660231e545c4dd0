"""The database server's settings: the ``database:`` section of the suite's configuration."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, SecretStr, field_validator

from mesh.config import ServerSettings, Settings, StrictModel, section
from servers.runtime.definition import BodyLimit

SECTION = "database"
DATABASE_PORT = 8502


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


class DatabaseConnection(StrictModel):
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

    port: int = Field(default=DATABASE_PORT, ge=0, le=65535)
    connections: dict[str, DatabaseConnection] = Field(default_factory=dict)
    schema_cache_seconds: float = Field(default=30.0, ge=0, le=3600)
    pool_size: int = Field(default=10, ge=1, le=200, description="connections per PostgreSQL pool")
    max_request_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=64 * 1024,
        description="most bytes of one HTTP request: a statement (at most 100 000 characters) and its parameters",
    )

    @field_validator("connections")
    @classmethod
    def _names(cls, value: dict[str, DatabaseConnection]) -> dict[str, DatabaseConnection]:
        for name in value:
            if not re.match(CONNECTION_NAME_PATTERN, name):
                raise ValueError(f"connection name {name!r} must match {CONNECTION_NAME_PATTERN}")
        return value


def database_settings(settings: Settings) -> DatabaseSettings:
    """The ``database:`` section of ``settings``."""
    return section(settings, SECTION, DatabaseSettings)


def body_limit(settings: Settings) -> BodyLimit:
    """The HTTP body limit: ``max_request_bytes``, room for a statement and parameters (values to insert)."""
    return BodyLimit(database_settings(settings).max_request_bytes, "database.max_request_bytes")
