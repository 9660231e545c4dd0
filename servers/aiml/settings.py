"""The aiml server's settings: the ``aiml:`` section of the suite's configuration.

Providers are named (``aiml.providers.<name>``, each a :class:`ProviderSettings` of kind ``local``,
``openai`` or ``ollama``); a model is called ``<provider>/<model>`` or by an alias
(``aiml.aliases``) that lists such names in the order they are tried. The policy (allow-list,
token caps, per-principal budgets) is enforced on every call.
"""

from __future__ import annotations

import os
from typing import Literal

from pydantic import Field, SecretStr, model_validator

from mesh.config import ServerSettings, Settings, StrictModel, section
from servers.kit.paths.settings import DEFAULT_DENY_GLOBS, PathRoot

SECTION = "aiml"
AIML_PORT = 8506
LOCAL_GENERATOR = "gemma3-270m"
LOCAL_EMBEDDER = "all-MiniLM-L6-v2"
OLLAMA_URL = "http://127.0.0.1:11434"
MEDIA_ALIASES = {"vision": "vision", "transcribe": "audio"}
"""The media tools' aliases and the capability each needs: empty by default (no bundled model sees or hears)."""

ProviderKind = Literal["local", "openai", "ollama"]


class ProviderSettings(StrictModel):
    """One model provider: the embedded local models, an OpenAI-compatible endpoint, or an Ollama server."""

    kind: ProviderKind = Field(description="local: the bundled GGUF and embedder; openai; ollama")
    url: str | None = Field(
        default=None,
        min_length=1,
        max_length=2000,
        description=f"openai: the API base (…/v1); ollama: default {OLLAMA_URL}",
    )
    api_key: SecretStr | None = Field(default=None, description="openai: the bearer key")
    api_key_env: str | None = Field(
        default=None, min_length=1, max_length=200, description="openai: the environment variable holding the key"
    )
    max_concurrency: int = Field(default=2, ge=1, le=256, description="calls running at once on this provider")
    queue_limit: int = Field(default=32, ge=0, le=10_000, description="calls waiting for a slot; beyond it: busy")
    timeout_seconds: float = Field(default=120.0, gt=0, le=3600, description="per request to a remote provider")
    health_ttl_seconds: float = Field(default=5.0, ge=0, le=3600, description="how long a health answer is reused")
    cost_per_1k_tokens: float = Field(default=0.0, ge=0, le=1_000_000, description="cost units per 1000 tokens")
    model_path: str | None = Field(
        default=None, min_length=1, max_length=4000, description="local: a GGUF file; default the bundled gemma3-270m"
    )
    context_length: int = Field(default=2048, ge=128, le=131_072, description="local: the context window (n_ctx)")
    threads: int | None = Field(default=None, ge=1, le=256, description="local: llama.cpp threads; default the cores")
    vision_models: tuple[str, ...] = Field(
        default=(), max_length=100, description="globs over model names that take images (ollama also asks /api/show)"
    )
    audio_models: tuple[str, ...] = Field(
        default=(), max_length=100, description="openai: globs over the models of /audio/transcriptions"
    )

    @model_validator(mode="after")
    def _check_kind(self) -> ProviderSettings:
        if self.url is not None and not self.url.startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        if self.kind == "openai" and self.url is None:
            raise ValueError("an openai provider needs url (the API base, e.g. http://127.0.0.1:8000/v1)")
        if self.kind != "local" and self.model_path is not None:
            raise ValueError("model_path is for the local provider only")
        if self.kind != "openai" and (self.api_key is not None or self.api_key_env is not None):
            raise ValueError("api_key and api_key_env are for openai providers only")
        if self.kind != "openai" and self.audio_models:
            raise ValueError("audio_models is for openai providers only (Ollama and local transcribe nothing)")
        if self.kind == "local" and self.vision_models:
            raise ValueError("vision_models is for openai and ollama providers (the local model sees no images)")
        return self

    def base_url(self) -> str:
        return (self.url or OLLAMA_URL).rstrip("/")

    def resolved_api_key(self) -> str | None:
        if self.api_key is not None:
            return self.api_key.get_secret_value()
        if self.api_key_env:
            return os.environ.get(self.api_key_env) or None
        return None


class BudgetSettings(StrictModel):
    """Tokens each principal may spend over a sliding window, and the cheaper alias used when it runs low."""

    tokens_per_window: int | None = Field(default=None, ge=1, le=10**12, description="unset: no budget")
    window_seconds: float = Field(default=3600.0, gt=0, le=30 * 86400)
    low_fraction: float = Field(
        default=0.2, ge=0, le=1, description="below this share of the budget left, calls move to fallback_alias"
    )
    fallback_alias: str = Field(default="fast", min_length=1, max_length=64, description="the cheaper alias")


def _default_aliases() -> dict[str, tuple[str, ...]]:
    return {
        "default": (f"local/{LOCAL_GENERATOR}",),
        "fast": (f"local/{LOCAL_GENERATOR}",),
        "embed": (f"local/{LOCAL_EMBEDDER}",),
        "vision": (),
        "transcribe": (),
    }


class AimlSettings(ServerSettings):
    port: int = Field(default=AIML_PORT, ge=0, le=65535)
    providers: dict[str, ProviderSettings] = Field(default_factory=lambda: {"local": ProviderSettings(kind="local")})
    aliases: dict[str, tuple[str, ...]] = Field(default_factory=_default_aliases)
    allowed_models: tuple[str, ...] = Field(
        default=("*",), max_length=1000, description="globs over <provider>/<model>; a model outside is refused"
    )
    default_max_tokens: int = Field(default=256, ge=1, le=1_000_000)
    max_tokens_per_call: int = Field(default=1024, ge=1, le=1_000_000)
    max_output_chars: int = Field(
        default=60_000, ge=256, le=10_000_000, description="the output budget of one answer (under 25k tokens)"
    )
    max_input_chars: int = Field(default=200_000, ge=256, le=100_000_000, description="prompt or messages, in all")
    max_embed_texts: int = Field(default=256, ge=1, le=100_000)
    max_page_size: int = Field(default=100, ge=1, le=10_000)
    progress_interval_seconds: float = Field(
        default=0.05, ge=0, le=10, description="least time between two progress notifications after the first"
    )
    max_image_bytes: int = Field(default=8 * 2**20, ge=1024, le=2**30, description="one image, decoded")
    max_audio_bytes: int = Field(default=25 * 2**20, ge=1024, le=2**30, description="one audio file, decoded")
    media_roots: tuple[PathRoot, ...] = Field(
        default=(), description="directories describe_image / transcribe_audio may read a path from (read only)"
    )
    media_deny: tuple[str, ...] = DEFAULT_DENY_GLOBS
    budget: BudgetSettings = BudgetSettings()
    default_principal: str = Field(
        default="anonymous", min_length=1, max_length=200, description="whose budget a call without a principal charges"
    )
    trust_forwarded_principal: bool = Field(
        default=False, description="charge the principal the gateway forwards (only behind the gateway's secret)"
    )
    allow_model_management: bool = Field(default=False, description="registers pull_model and delete_model (Ollama)")
    read_only: bool = Field(default=False, description="no pull_model or delete_model, whatever the rest says")

    @model_validator(mode="after")
    def _check_names(self) -> AimlSettings:
        if not self.providers:
            raise ValueError("aiml.providers needs at least one provider")
        for alias, targets in self.aliases.items():
            if "/" in alias:
                raise ValueError(f"aiml.aliases: the alias {alias!r} may not contain '/'")
            if not targets and alias not in MEDIA_ALIASES:
                raise ValueError(f"aiml.aliases.{alias} lists no model")
            for target in targets:
                provider, _, model = target.partition("/")
                if not model:
                    raise ValueError(f"aiml.aliases.{alias}: {target!r} is not <provider>/<model>")
                if provider not in self.providers:
                    raise ValueError(f"aiml.aliases.{alias}: {target!r} names no provider of aiml.providers")
        if self.default_max_tokens > self.max_tokens_per_call:
            raise ValueError("aiml.default_max_tokens is above aiml.max_tokens_per_call")
        return self


def aiml_settings(settings: Settings) -> AimlSettings:
    """The ``aiml:`` section of ``settings``."""
    return section(settings, SECTION, AimlSettings)
