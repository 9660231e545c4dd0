"""The vectorstore server's settings: the ``vectorstore:`` section of the suite's configuration.

Backends are named (``vectorstore.backends.<name>``, each a :class:`BackendSettings`), and so are
embedders (``vectorstore.embedders.<name>``); ``default_backend`` and ``default_embedder`` are what
a call without ``backend`` / ``embedder`` uses. ``ingest_roots`` are the directories ``ingest_files``
may read, with the same shape and deny globs as the filesystem server's roots.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from mesh.config import ServerSettings, Settings, section
from servers.kit.embedders.settings import EmbedderSettings, EmbeddingCacheSettings
from servers.kit.paths.settings import DEFAULT_DENY_GLOBS, PathRoot
from servers.runtime.definition import BodyLimit
from servers.vectorstore.backends.settings import BackendSettings

SECTION = "vectorstore"
VECTORSTORE_PORT = 8503
DEFAULT_INGEST_DENY: tuple[str, ...] = DEFAULT_DENY_GLOBS
"""The filesystem server's default deny globs: secrets are never ingested either."""


class VectorstoreSettings(ServerSettings):
    port: int = Field(default=VECTORSTORE_PORT, ge=0, le=65535)
    backends: dict[str, BackendSettings] = Field(default_factory=lambda: {"chroma": BackendSettings(kind="chroma")})
    default_backend: str | None = Field(default=None, description="the backend of calls without one; else the first")
    embedders: dict[str, EmbedderSettings] = Field(default_factory=lambda: {"default": EmbedderSettings()})
    default_embedder: str = "default"
    embedding_cache: EmbeddingCacheSettings = EmbeddingCacheSettings()
    read_only: bool = False
    ingest_roots: tuple[PathRoot, ...] = Field(default=(), description="read only, whatever their mode")
    ingest_deny: tuple[str, ...] = DEFAULT_INGEST_DENY
    upsert_batch_size: int = Field(default=128, ge=1, le=10_000)
    max_documents_per_call: int = Field(default=2_000, ge=1, le=100_000)
    max_text_bytes: int = Field(default=64 * 1024, ge=256, le=16 * 1024 * 1024)
    max_ingest_bytes: int = Field(default=8 * 1024 * 1024, ge=1024, le=1024 * 1024 * 1024)
    max_ingest_files: int = Field(default=1_000, ge=1, le=100_000)
    max_file_bytes: int = Field(default=2 * 1024 * 1024, ge=1024, le=256 * 1024 * 1024)
    max_top_k: int = Field(default=100, ge=1, le=10_000)
    max_page_size: int = Field(default=200, ge=1, le=10_000)
    max_result_bytes: int = Field(default=256 * 1024, ge=4096, le=64 * 1024 * 1024)
    text_preview_chars: int = Field(default=2_000, ge=32, le=1_000_000)
    candidate_pool: int = Field(default=50, ge=1, le=10_000, description="top-N of each ranking fused by hybrid/MMR")
    keyword_index_max_documents: int = Field(default=50_000, ge=1, le=10_000_000)
    record_cache_seconds: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description="how long reads trust a collection's record read before (0: read it every call)",
    )

    @model_validator(mode="after")
    def _known_defaults(self) -> VectorstoreSettings:
        if not self.backends:
            raise ValueError("vectorstore.backends needs at least one backend")
        if self.default_backend is not None and self.default_backend not in self.backends:
            raise ValueError(f"vectorstore.default_backend {self.default_backend!r} is not one of vectorstore.backends")
        if self.default_embedder not in self.embedders:
            raise ValueError(
                f"vectorstore.default_embedder {self.default_embedder!r} is not one of vectorstore.embedders"
            )
        return self

    @property
    def backend_default(self) -> str:
        return self.default_backend or next(iter(self.backends))


def vectorstore_settings(settings: Settings) -> VectorstoreSettings:
    """The ``vectorstore:`` section of ``settings``."""
    return section(settings, SECTION, VectorstoreSettings)


JSON_TEXT_OVERHEAD = 3
"""Bytes of JSON per byte of UTF-8 text at most (``\\uXXXX`` escapes), as for the filesystem's writes."""
ENVELOPE_BYTES = 256 * 1024
"""Room for the envelope, ids and metadata of the largest upsert."""


def body_limit(settings: Settings) -> BodyLimit:
    """The HTTP body limit: an ``ingest_text`` of ``max_ingest_bytes`` fits whatever JSON escaping it needs."""
    own = vectorstore_settings(settings)
    return BodyLimit(own.max_ingest_bytes * JSON_TEXT_OVERHEAD + ENVELOPE_BYTES, "vectorstore.max_ingest_bytes")
