"""The ``local`` provider: gemma3-270m (a base model: plain completion) and all-MiniLM-L6-v2 embeddings.

The GGUF is assembled from its package and loaded in the background when the server starts
(:meth:`LocalProvider.warm`); until then ``warm_state`` says ``loading`` and a call waits for the same
load. Chat is a plain transcript (:mod:`..transcript`): the model has no chat template to rely on, and
tool definitions are not supported.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from pathlib import Path
from typing import Any

import anyio

from servers.aiml.errors import AimlError, model_not_found, unsupported
from servers.aiml.providers.base import (
    Embeddings,
    Event,
    GenerationOptions,
    Health,
    ModelCard,
    Provider,
)
from servers.aiml.providers.local.llama import LlamaRunner, load_llama, usable_cores
from servers.aiml.providers.local.model_file import bundled_model
from servers.aiml.providers.transcript import STOP, transcript
from servers.aiml.settings import LOCAL_EMBEDDER, LOCAL_GENERATOR, ProviderSettings
from servers.kit.embedders.base import EmbedderError
from servers.kit.embedders.factory import EmbedderSet
from servers.kit.embedders.settings import LOCAL_DIMENSION, EmbedderSettings

CHARS_PER_TOKEN = 4
"""The estimate of a text's tokens for embeddings: the ONNX embedder does not report its count."""


class LocalProvider(Provider):
    kind = "local"

    def __init__(
        self, name: str, settings: ProviderSettings, data_dir: Path, embedders: EmbedderSet | None = None
    ) -> None:
        super().__init__(name, settings)
        self.data_dir = data_dir
        self.embedders = embedders or EmbedderSet({"default": EmbedderSettings()}, None, section="aiml")
        self._runner: LlamaRunner | None = None
        self._failure: AimlError | None = None
        self._loading = anyio.Lock()
        self._state = "cold"

    @property
    def active_generations(self) -> int:
        """Generations running on the model now (0 or 1)."""
        return self._runner.active if self._runner is not None else 0

    def warm_state(self) -> str:
        if self._failure is not None:
            return f"failed ({self._failure.detail})"
        return self._state

    async def warm(self) -> None:
        await self.runner()
        try:
            await self.embedders.get(None).warm()
        except EmbedderError as exc:
            raise AimlError("model_unavailable", f"the local embedder did not load: {exc.detail}") from None

    async def runner(self) -> LlamaRunner:
        """The loaded generator, loading it on first use (one load, whoever asks first)."""
        async with self._loading:
            if self._runner is not None:
                return self._runner
            if self._failure is not None:
                raise self._failure
            self._state = "loading"
            try:
                if self.settings.model_path:
                    path = Path(self.settings.model_path)
                else:
                    path = await anyio.to_thread.run_sync(bundled_model, self.data_dir)
                threads = self.settings.threads or usable_cores()
                llama = await anyio.to_thread.run_sync(load_llama, path, self.settings.context_length, threads)
            except AimlError as exc:
                self._failure = exc
                self._state = "failed"
                raise
            self._runner = LlamaRunner(llama)
            self._state = "warm"
            return self._runner

    async def health(self) -> Health:
        if self._failure is not None:
            return Health(False, self.warm_state())
        return Health(True, self.warm_state())

    async def models(self) -> list[ModelCard]:
        context = self._runner.context_length if self._runner else self.settings.context_length
        return [
            ModelCard(
                provider=self.name,
                name=LOCAL_GENERATOR,
                kind="generation",
                capabilities=("completion", "chat"),
                context_length=context,
                details={"format": "gguf", "quantization": "Q4_K_M", "base_model": True, "state": self.warm_state()},
            ),
            ModelCard(
                provider=self.name,
                name=LOCAL_EMBEDDER,
                kind="embedding",
                capabilities=("embedding",),
                context_length=256,
                dimension=LOCAL_DIMENSION,
                details={"format": "onnx int8", "normalised": True},
            ),
        ]

    def _generator(self, model: str) -> None:
        if model != LOCAL_GENERATOR:
            raise model_not_found(self.name, model)

    async def complete(self, model: str, prompt: str, options: GenerationOptions) -> AsyncGenerator[Event, None]:
        self._generator(model)
        if options.tools:
            raise unsupported(self.name, "tool definitions")
        runner = await self.runner()
        async with aclosing(runner.stream(prompt, options)) as events:
            async for event in events:
                yield event

    async def chat(
        self, model: str, messages: Sequence[dict[str, Any]], options: GenerationOptions
    ) -> AsyncGenerator[Event, None]:
        self._generator(model)
        if options.tools:
            raise unsupported(self.name, "tool definitions")
        stops = (*options.stop, *STOP)
        runner = await self.runner()
        plain = GenerationOptions(options.max_tokens, options.temperature, stops)
        async with aclosing(runner.stream(transcript(messages), plain)) as events:
            async for event in events:
                yield event

    async def embed(self, model: str, texts: Sequence[str]) -> Embeddings:
        if model != LOCAL_EMBEDDER:
            raise model_not_found(self.name, model)
        try:
            vectors = await self.embedders.get(None).embed(list(texts))
        except EmbedderError as exc:
            raise AimlError("model_unavailable", f"the local embedder failed: {exc.detail}") from None
        tokens = sum(max(1, len(text) // CHARS_PER_TOKEN) for text in texts)
        return Embeddings([row.tolist() for row in vectors], tokens, tokens_estimated=True)

    async def aclose(self) -> None:
        await self.embedders.aclose()
