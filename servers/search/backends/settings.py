"""How one search backend is configured: the engine, and where its index lives."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from mesh.config import StrictModel

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class BackendSettings(StrictModel):
    """One entry of ``search.backends``.

    ``tantivy`` keeps an on-disk index per index name under ``path`` (default
    ``<data_dir>/search/<backend name>``): one process writes it at a time. ``postgres`` keeps
    every index as a table in ``schema_name`` of the database at ``dsn``, and ``opensearch`` every
    index as ``<index_prefix><index>`` on the cluster at ``url``: any number of server instances
    share those two.
    """

    kind: Literal["tantivy", "postgres", "opensearch"] = "tantivy"
    path: Path | None = None
    dsn: SecretStr | None = Field(default=None, description="postgresql://user@host:port/database")
    url: str | None = Field(default=None, max_length=2048, description="opensearch: http(s)://host:9200")
    username: str | None = Field(default=None, max_length=256)
    password: SecretStr | None = None
    index_prefix: str = Field(default="mcp-search-", pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    verify_certs: bool = True
    schema_name: str = Field(default="mcp_search", description="the PostgreSQL schema holding the index tables")
    pool_size: int = Field(default=8, ge=1, le=256)
    timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    writer_heap_bytes: int = Field(default=64 * 1024 * 1024, ge=15_000_000, le=4 * 1024 * 1024 * 1024)

    @field_validator("schema_name")
    @classmethod
    def _plain_schema(cls, value: str) -> str:
        if not _SCHEMA_NAME.match(value):
            raise ValueError("schema_name must be lower-case letters, digits and _, starting with a letter or _")
        return value

    @model_validator(mode="after")
    def _placed(self) -> BackendSettings:
        if self.kind == "postgres" and self.dsn is None:
            raise ValueError("a postgres search backend needs a dsn, such as postgresql://postgres@127.0.0.1:5432/test")
        if self.kind == "opensearch" and (self.url is None or not self.url.startswith(("http://", "https://"))):
            raise ValueError("an opensearch backend needs a url, such as http://127.0.0.1:9200")
        if self.kind == "tantivy" and (self.dsn is not None or self.url is not None):
            raise ValueError("a tantivy backend is embedded: give it a path, not a dsn or url")
        return self

    def embedded_path(self, name: str, data_dir: Path) -> Path:
        return self.path if self.path is not None else data_dir / "search" / name
