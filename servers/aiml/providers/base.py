"""What every provider is: health, its models, streamed completion and chat, embeddings.

A generation is an async iterator of :class:`Delta` (text as it arrives, possibly tool calls) ending
with one :class:`Done` (token counts and why it stopped). Closing the iterator early (the client
cancelled, the output budget is spent) stops the generation at the provider. Every failure is an
:class:`~servers.aiml.errors.AimlError`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from servers.aiml.errors import model_not_found, no_capable_model
from servers.aiml.settings import ProviderSettings

Capability = Literal["completion", "chat", "tools", "embedding", "vision", "audio", "pull"]
ModelKind = Literal["generation", "embedding", "transcription"]


@dataclass(frozen=True)
class ModelCard:
    """One model of a provider: what ``show_model`` and ``model://`` resources describe."""

    provider: str
    name: str
    kind: ModelKind
    capabilities: tuple[Capability, ...]
    context_length: int | None = None
    dimension: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Health:
    ok: bool
    detail: str


@dataclass(frozen=True)
class GenerationOptions:
    max_tokens: int
    temperature: float = 0.7
    stop: tuple[str, ...] = ()
    tools: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class Delta:
    text: str = ""
    tool_calls: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class Done:
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str


Event = Delta | Done


@dataclass(frozen=True)
class Embeddings:
    vectors: list[list[float]]
    prompt_tokens: int
    tokens_estimated: bool


@dataclass(frozen=True)
class Media:
    """An image or audio file, checked and decoded (:mod:`servers.aiml.media`)."""

    data: bytes
    mime_type: str
    extension: str


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Transcription:
    text: str
    language: str | None
    duration_seconds: float | None
    segments: tuple[Segment, ...]
    prompt_tokens: int
    completion_tokens: int
    tokens_estimated: bool


class Provider(ABC):
    """A configured provider called ``name``."""

    kind: str

    def __init__(self, name: str, settings: ProviderSettings) -> None:
        self.name = name
        self.settings = settings

    @abstractmethod
    async def health(self) -> Health:
        """Whether the provider answers now (never raises)."""

    @abstractmethod
    async def models(self) -> list[ModelCard]:
        """The models the provider serves."""

    async def show(self, model: str) -> ModelCard:
        """One model's card, or ``model_not_found``."""
        for card in await self.models():
            if card.name == model:
                return card
        raise model_not_found(self.name, model)

    @abstractmethod
    def complete(self, model: str, prompt: str, options: GenerationOptions) -> AsyncGenerator[Event, None]:
        """Plain completion of ``prompt``, streamed."""

    @abstractmethod
    def chat(
        self, model: str, messages: Sequence[dict[str, Any]], options: GenerationOptions
    ) -> AsyncGenerator[Event, None]:
        """A chat answer to ``messages`` (``role``, ``content``), streamed; ``options.tools`` passed through."""

    @abstractmethod
    async def embed(self, model: str, texts: Sequence[str]) -> Embeddings:
        """Unit-length or raw vectors of ``texts``, one per text, in order."""

    async def capabilities(self, model: str) -> tuple[Capability, ...]:
        """What ``model`` takes (its card's capabilities); ``model_not_found`` for a model it lacks."""
        return (await self.show(model)).capabilities

    def describe(
        self, model: str, prompt: str, images: Sequence[Media], options: GenerationOptions
    ) -> AsyncGenerator[Event, None]:
        """An answer to ``prompt`` about ``images``, streamed (providers with vision models)."""
        raise no_capable_model("vision", "vision", f"the {self.kind} provider {self.name!r} takes no images")

    async def transcribe(self, model: str, audio: Media, language: str | None) -> Transcription:
        """The text of ``audio`` (providers with transcription models)."""
        raise no_capable_model("audio", "transcribe", f"the {self.kind} provider {self.name!r} transcribes nothing")

    async def warm(self) -> None:
        """Load what must be loaded before the first call (the local model); nothing for a remote one."""
        return None

    def warm_state(self) -> str:
        return "remote"

    async def aclose(self) -> None:
        """Release clients and connections."""
        return None
