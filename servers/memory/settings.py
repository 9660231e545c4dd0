"""The memory server's settings: the ``memory:`` section of the suite's configuration.

``store`` picks the backend (``sqlite`` embedded, ``postgres`` shared by many instances, ``redis``
short-term working memory with an optional namespace TTL, ``neo4j`` a graph database).
``namespaces`` names who may read and write each namespace; a principal is the authenticated
caller (the server's own token check), the gateway's forwarded principal when
``trust_forwarded_principal`` is on, else ``default_principal``.
"""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mesh.config import ServerSettings, Settings, section
from servers.kit.embedders.settings import EmbedderSettings, EmbeddingCacheSettings

SECTION = "memory"
MEMORY_PORT = 8504
NAMESPACE_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
ANYONE = "*"


class NamespaceAccess(BaseModel):
    """Who may read and who may write one namespace: principal subjects, or ``*`` for anyone."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["user", "agent", "project", "shared"] = "shared"
    read: tuple[str, ...] = (ANYONE,)
    write: tuple[str, ...] = (ANYONE,)


class SqliteStoreSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str | None = Field(default=None, description="the database file; default <data_dir>/memory/memory.db")
    busy_timeout_ms: int = Field(default=10_000, ge=100, le=600_000)


class PostgresStoreSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dsn: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    schema_name: str = Field(default="memory", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    min_connections: int = Field(default=1, ge=0, le=100)
    max_connections: int = Field(default=10, ge=1, le=500)
    connect_timeout_seconds: float = Field(default=10.0, gt=0, le=300)


class RedisStoreSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = Field(default="mcp-suite:memory:", min_length=1, max_length=200)
    ttl_seconds: int | None = Field(
        default=None, ge=1, description="a namespace expires this long after its last write; none: kept"
    )
    max_connections: int = Field(default=20, ge=1, le=10_000)
    connect_timeout_seconds: float = Field(default=5.0, gt=0, le=300)
    socket_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    max_write_retries: int = Field(default=100, ge=1, le=10_000, description="optimistic retries of one write")


class Neo4jStoreSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    uri: str = Field(default_factory=lambda: os.environ.get("NEO4J_URI", "neo4j://127.0.0.1:7687"))
    user: str = Field(default_factory=lambda: os.environ.get("NEO4J_USER", "neo4j"))
    password: str | None = Field(default_factory=lambda: os.environ.get("NEO4J_PASSWORD"), repr=False)
    database: str | None = Field(default=None, description="none: the server's default database")
    max_connections: int = Field(default=20, ge=1, le=10_000)
    connect_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    query_timeout_seconds: float = Field(default=30.0, gt=0, le=3600)


class MemorySettings(ServerSettings):
    port: int = Field(default=MEMORY_PORT, ge=0, le=65535)
    store: Literal["sqlite", "postgres", "redis", "neo4j"] = "sqlite"
    sqlite: SqliteStoreSettings = SqliteStoreSettings()
    postgres: PostgresStoreSettings = PostgresStoreSettings()
    redis: RedisStoreSettings = RedisStoreSettings()
    neo4j: Neo4jStoreSettings = Field(default_factory=Neo4jStoreSettings)
    read_only: bool = False
    default_namespace: str = Field(default="default", pattern=NAMESPACE_PATTERN)
    namespaces: dict[str, NamespaceAccess] = Field(
        default_factory=dict,
        description="access per namespace; empty: every namespace open to every principal",
    )
    default_principal: str = Field(default="local", min_length=1, max_length=200)
    trust_forwarded_principal: bool = Field(
        default=False, description="take the principal the gateway forwards (only behind the gateway's secret)"
    )
    embedders: dict[str, EmbedderSettings] = Field(default_factory=lambda: {"default": EmbedderSettings()})
    default_embedder: str = "default"
    embedding_cache: EmbeddingCacheSettings = EmbeddingCacheSettings()
    embed_batch_size: int = Field(default=128, ge=1, le=4096)
    recall_vectors: bool = Field(default=True, description="rank recall by embeddings as well as keywords")
    default_page_tokens: int = Field(default=4_000, ge=100, le=200_000)
    max_page_tokens: int = Field(default=20_000, ge=100, le=1_000_000)
    max_page_entities: int = Field(default=500, ge=1, le=100_000)
    max_items_per_call: int = Field(default=1_000, ge=1, le=100_000)
    max_observation_chars: int = Field(default=8_000, ge=16, le=1_000_000)
    max_name_chars: int = Field(default=200, ge=1, le=10_000)
    max_import_lines: int = Field(default=100_000, ge=1, le=10_000_000)
    max_ttl_seconds: int = Field(default=365 * 24 * 3600, ge=1)

    @model_validator(mode="after")
    def _known_defaults(self) -> MemorySettings:
        if self.default_embedder not in self.embedders:
            raise ValueError(f"memory.default_embedder {self.default_embedder!r} is not one of memory.embedders")
        if self.namespaces and self.default_namespace not in self.namespaces:
            raise ValueError(f"memory.default_namespace {self.default_namespace!r} is not one of memory.namespaces")
        return self


def memory_settings(settings: Settings) -> MemorySettings:
    """The ``memory:`` section of ``settings``."""
    return section(settings, SECTION, MemorySettings)
