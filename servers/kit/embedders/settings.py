"""The settings of one embedder and of the embedding cache: what any server's ``embedders:`` map holds.

A server section that embeds (``vectorstore:``, ``memory:``...) carries ``embedders: {name:
EmbedderSettings}`` and ``embedding_cache: EmbeddingCacheSettings``; docs/embeddings.md describes
the fields. The models refuse unknown keys and out-of-bounds values when the configuration loads.
"""

from __future__ import annotations

import os
from typing import Literal

from pydantic import Field, SecretStr, model_validator

from mesh.config import StrictModel

LOCAL_MODEL = "all-MiniLM-L6-v2"
LOCAL_DIMENSION = 384
OLLAMA_URL = "http://127.0.0.1:11434"
OPENAI_URL = "https://api.openai.com/v1"


class EmbedderSettings(StrictModel):
    """One named embedder: the bundled local model, an Ollama server or an OpenAI-compatible endpoint."""

    kind: Literal["local", "ollama", "openai"] = Field(
        default="local", description="local: the bundled ONNX model; ollama; openai: any OpenAI-compatible API"
    )
    model: str = Field(default=LOCAL_MODEL, min_length=1, max_length=200, description="the model's name")
    url: str | None = Field(
        default=None,
        min_length=1,
        max_length=2000,
        description=f"ollama: default {OLLAMA_URL}; openai: the API base, default {OPENAI_URL}",
    )
    api_key: SecretStr | None = Field(default=None, description="openai: the bearer key")
    api_key_env: str | None = Field(
        default=None, min_length=1, max_length=200, description="openai: the environment variable holding the key"
    )
    dimension: int | None = Field(
        default=None, ge=1, le=65_536, description="the vectors' size; openai sends it as `dimensions`; always checked"
    )
    batch_size: int = Field(default=64, ge=1, le=2048, description="texts per model run or per request")
    timeout_seconds: float = Field(default=30.0, gt=0, le=600, description="per request to a remote endpoint")
    max_retries: int = Field(
        default=2, ge=0, le=10, description="remote: retries after a 429 or 503 answer (Retry-After honoured)"
    )
    threads: int | None = Field(
        default=None, ge=1, le=256, description="local: onnxruntime intra-op threads; default the usable cores"
    )

    @model_validator(mode="after")
    def _check_kind(self) -> EmbedderSettings:
        if self.kind == "local":
            if self.model != LOCAL_MODEL:
                raise ValueError(f"the local embedder ships only {LOCAL_MODEL!r}; use kind ollama or openai for others")
            if self.dimension not in (None, LOCAL_DIMENSION):
                raise ValueError(f"{LOCAL_MODEL} has {LOCAL_DIMENSION} dimensions")
            if self.url is not None or self.api_key is not None or self.api_key_env is not None:
                raise ValueError("the local embedder takes no url, api_key or api_key_env")
        elif self.kind == "ollama" and (self.api_key is not None or self.api_key_env is not None):
            raise ValueError("the ollama embedder takes no api_key")
        if self.url is not None and not self.url.startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        return self

    def base_url(self) -> str:
        """The endpoint without a trailing slash (the kind's default when ``url`` is not set)."""
        default = OLLAMA_URL if self.kind == "ollama" else OPENAI_URL
        return (self.url or default).rstrip("/")

    def resolved_api_key(self) -> str | None:
        """``api_key``, else the variable named by ``api_key_env``; ``None`` sends no Authorization header."""
        if self.api_key is not None:
            return self.api_key.get_secret_value()
        if self.api_key_env:
            return os.environ.get(self.api_key_env) or None
        return None


class EmbeddingCacheSettings(StrictModel):
    """Vectors already computed: an in-process LRU, then Redis shared by every replica."""

    memory_entries: int = Field(default=20_000, ge=0, le=10_000_000, description="in-process LRU size; 0 disables")
    redis_url: str | None = Field(
        default=None, min_length=1, max_length=2000, description="redis:// or rediss:// URL of the shared level"
    )
    ttl_seconds: int = Field(default=7 * 86400, ge=1, le=365 * 86400, description="how long Redis keeps a vector")
    key_prefix: str = Field(
        default="mcp-suite:embedding:", min_length=1, max_length=200, description="prefix of every Redis key"
    )
    redis_timeout_seconds: float = Field(default=1.0, gt=0, le=60, description="per Redis connect and command")
    redis_retry_seconds: float = Field(
        default=30.0, ge=0, le=3600, description="after Redis failed, how long to go on without it before trying again"
    )

    @model_validator(mode="after")
    def _check_url(self) -> EmbeddingCacheSettings:
        if self.redis_url is not None and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("redis_url must start with redis://, rediss:// or unix://")
        return self
