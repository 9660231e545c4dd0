"""The search server's settings: the ``search:`` section of the suite's configuration.

Backends are named (``search.backends.<name>``, each a ``BackendSettings``); ``default_backend``
is what a call without ``backend`` uses. ``allowed_indexes`` (globs) limits the indexes any tool
may touch; ``directory_roots`` are the directories ``index_directory`` may read, with the same
shape and deny globs as the filesystem server's roots.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from mesh.config import ServerSettings, Settings, section
from servers.kit.paths.settings import DEFAULT_DENY_GLOBS, PathRoot
from servers.search.backends.settings import BackendSettings

SECTION = "search"
SEARCH_PORT = 8505


class SearchSettings(ServerSettings):
    port: int = Field(default=SEARCH_PORT, ge=0, le=65535)
    backends: dict[str, BackendSettings] = Field(default_factory=lambda: {"tantivy": BackendSettings(kind="tantivy")})
    default_backend: str | None = Field(default=None, description="the backend of calls without one; else the first")
    read_only: bool = False
    allowed_indexes: tuple[str, ...] = Field(
        default=(), description="globs of the index names tools may touch; empty: all"
    )
    directory_roots: tuple[PathRoot, ...] = Field(default=(), description="read only, whatever their mode")
    directory_deny: tuple[str, ...] = DEFAULT_DENY_GLOBS
    max_directory_files: int = Field(default=20_000, ge=1, le=1_000_000)
    max_file_bytes: int = Field(default=1024 * 1024, ge=1024, le=256 * 1024 * 1024)
    batch_size: int = Field(default=5_000, ge=1, le=100_000)
    max_documents_per_call: int = Field(default=10_000, ge=1, le=1_000_000)
    max_document_bytes: int = Field(default=1024 * 1024, ge=256, le=64 * 1024 * 1024)
    max_page_size: int = Field(default=100, ge=1, le=10_000)
    max_offset: int = Field(default=10_000, ge=100, le=1_000_000, description="how deep a cursor may page")
    max_result_bytes: int = Field(default=64 * 1024, ge=4096, le=64 * 1024 * 1024)
    max_field_chars: int = Field(default=500, ge=16, le=1_000_000, description="returned field values are cut here")
    max_snippet_chars: int = Field(default=400, ge=32, le=10_000)
    max_facet_values: int = Field(default=50, ge=1, le=1000)
    raw_query: bool = Field(default=False, description="offer `raw_query` (query DSL) on opensearch backends")

    @model_validator(mode="after")
    def _known_default(self) -> SearchSettings:
        if not self.backends:
            raise ValueError("search.backends needs at least one backend")
        if self.default_backend is not None and self.default_backend not in self.backends:
            raise ValueError(f"search.default_backend {self.default_backend!r} is not one of search.backends")
        return self

    @property
    def backend_default(self) -> str:
        return self.default_backend or next(iter(self.backends))


def search_settings(settings: Settings) -> SearchSettings:
    """The ``search:`` section of ``settings``."""
    return section(settings, SECTION, SearchSettings)
