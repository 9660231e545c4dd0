"""The ``ollama`` provider: ``/api/tags``, ``/api/show``, streamed ``/api/generate`` and ``/api/chat`` (tools
passed through; images as a message's ``images`` for vision models), ``/api/embed``, and the model management of ``/api/pull`` (streamed progress) and
``/api/delete``, all through the official client's ``AsyncClient``.

The client raises ``ResponseError`` (with the status) for an answer with an error and ``ConnectionError``
when nothing listens; both become coded errors here.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, cast

import httpx
from ollama import AsyncClient, ResponseError

from servers.aiml.errors import AimlError, model_not_found, refused, unavailable
from servers.aiml.providers.base import (
    Capability,
    Delta,
    Done,
    Embeddings,
    Event,
    GenerationOptions,
    Health,
    Media,
    ModelCard,
    Provider,
)
from servers.aiml.settings import ProviderSettings

KNOWN_CAPABILITIES: dict[str, Capability] = {
    "completion": "completion",
    "tools": "tools",
    "embedding": "embedding",
    "vision": "vision",
}


@dataclass(frozen=True)
class PullProgress:
    status: str
    completed: int | None
    total: int | None


class OllamaProvider(Provider):
    kind = "ollama"

    def __init__(self, name: str, settings: ProviderSettings) -> None:
        super().__init__(name, settings)
        self.client = AsyncClient(host=settings.base_url(), timeout=settings.timeout_seconds)

    def _failure(self, exc: Exception, model: str = "") -> AimlError:
        if isinstance(exc, ResponseError):
            status = exc.status_code
            if status == 404 or "not found" in str(exc.error).lower():
                return model_not_found(self.name, model)
            if status >= 500 or status == 429:
                return unavailable(self.name, f"HTTP {status}: {exc.error}")
            return refused(self.name, f"HTTP {status}: {exc.error}")
        if isinstance(exc, httpx.TimeoutException):
            return unavailable(self.name, "timed out")
        return unavailable(self.name, type(exc).__name__)

    async def health(self) -> Health:
        try:
            listed = await self.client.list()
        except (ResponseError, ConnectionError, httpx.HTTPError) as exc:
            return Health(False, self._failure(exc).detail)
        return Health(True, f"ok ({len(listed.models)} models)")

    async def models(self) -> list[ModelCard]:
        try:
            listed = await self.client.list()
        except (ResponseError, ConnectionError, httpx.HTTPError) as exc:
            raise self._failure(exc) from None
        cards = []
        for item in listed.models:
            name = str(item.model)
            details = item.details.model_dump(exclude_none=True) if item.details else {}
            embedding = "bert" in str(details.get("family", "")) or "embed" in name
            capabilities: tuple[Capability, ...] = ("embedding",) if embedding else ("completion", "chat")
            if not embedding and self._sees(name):
                capabilities = (*capabilities, "vision")
            cards.append(
                ModelCard(
                    provider=self.name,
                    name=name,
                    kind="embedding" if embedding else "generation",
                    capabilities=capabilities,
                    details={**details, "size": item.size},
                )
            )
        return cards

    async def show(self, model: str) -> ModelCard:
        try:
            shown = await self.client.show(model)
        except (ResponseError, ConnectionError, httpx.HTTPError) as exc:
            raise self._failure(exc, model) from None
        info = dict(shown.modelinfo or {})
        context = next((int(v) for k, v in info.items() if k.endswith(".context_length")), None)
        dimension = next((int(v) for k, v in info.items() if k.endswith(".embedding_length")), None)
        declared = [KNOWN_CAPABILITIES[c] for c in (shown.capabilities or []) if c in KNOWN_CAPABILITIES]
        if self._sees(model):
            declared.append("vision")
        embedding = "embedding" in declared
        if not embedding and "completion" in declared:
            declared.append("chat")
        details = shown.details.model_dump(exclude_none=True) if shown.details else {}
        return ModelCard(
            provider=self.name,
            name=model,
            kind="embedding" if embedding else "generation",
            capabilities=tuple(dict.fromkeys(declared or ["completion", "chat"])),
            context_length=context,
            dimension=dimension if embedding else None,
            details=details,
        )

    def _sees(self, model: str) -> bool:
        """Whether the operator listed ``model`` in ``vision_models`` (``/api/tags`` does not say; ``/api/show`` does)."""
        return any(fnmatchcase(model, glob) for glob in self.settings.vision_models)

    @staticmethod
    def _options(options: GenerationOptions) -> dict[str, Any]:
        out: dict[str, Any] = {"num_predict": options.max_tokens, "temperature": options.temperature}
        if options.stop:
            out["stop"] = list(options.stop)
        return out

    async def complete(self, model: str, prompt: str, options: GenerationOptions) -> AsyncGenerator[Event, None]:
        try:
            parts = await self.client.generate(model=model, prompt=prompt, stream=True, options=self._options(options))
            async with aclosing(_generator(parts)):
                async for part in parts:
                    if part.response:
                        yield Delta(text=part.response)
                    if part.done:
                        yield _done(part)
        except (ResponseError, ConnectionError, httpx.HTTPError) as exc:
            raise self._failure(exc, model) from None

    def chat(
        self, model: str, messages: Sequence[dict[str, Any]], options: GenerationOptions
    ) -> AsyncGenerator[Event, None]:
        return self._chat(model, list(messages), options)

    def describe(
        self, model: str, prompt: str, images: Sequence[Media], options: GenerationOptions
    ) -> AsyncGenerator[Event, None]:
        # Bytes, never text: the client reads a str image that names an existing file as that file.
        message = {"role": "user", "content": prompt, "images": [image.data for image in images]}
        return self._chat(model, [message], options)

    async def _chat(
        self, model: str, messages: list[dict[str, Any]], options: GenerationOptions
    ) -> AsyncGenerator[Event, None]:
        try:
            parts = await self.client.chat(
                model=model,
                messages=messages,
                tools=list(options.tools) or None,
                stream=True,
                options=self._options(options),
            )
            async with aclosing(_generator(parts)):
                async for part in parts:
                    message = part.message
                    calls = tuple(
                        {"id": None, "name": call.function.name, "arguments": dict(call.function.arguments)}
                        for call in (message.tool_calls or [])
                    )
                    if message.content or calls:
                        yield Delta(text=message.content or "", tool_calls=calls)
                    if part.done:
                        yield _done(part)
        except (ResponseError, ConnectionError, httpx.HTTPError) as exc:
            raise self._failure(exc, model) from None

    async def embed(self, model: str, texts: Sequence[str]) -> Embeddings:
        try:
            answer = await self.client.embed(model=model, input=list(texts))
        except (ResponseError, ConnectionError, httpx.HTTPError) as exc:
            raise self._failure(exc, model) from None
        vectors = [[float(x) for x in row] for row in answer.embeddings]
        if len(vectors) != len(texts):
            raise refused(self.name, f"{len(vectors)} vectors for {len(texts)} texts")
        tokens = answer.prompt_eval_count
        if tokens is None:
            return Embeddings(vectors, sum(max(1, len(t) // 4) for t in texts), True)
        return Embeddings(vectors, int(tokens), False)

    async def pull(self, model: str) -> AsyncIterator[PullProgress]:
        try:
            steps = await self.client.pull(model, stream=True)
            async with aclosing(_generator(steps)):
                async for part in steps:
                    yield PullProgress(str(part.status or ""), part.completed, part.total)
        except (ResponseError, ConnectionError, httpx.HTTPError) as exc:
            raise self._failure(exc, model) from None

    async def delete(self, model: str) -> None:
        try:
            await self.client.delete(model)
        except (ResponseError, ConnectionError, httpx.HTTPError) as exc:
            raise self._failure(exc, model) from None

    async def aclose(self) -> None:
        close = getattr(self.client, "close", None)
        if close is not None:
            await close()
        else:
            await self.client._client.aclose()


def _done(part: Any) -> Done:
    """The last line of a stream: Ollama's own token counts and why it stopped."""
    return Done(int(part.prompt_eval_count or 0), int(part.eval_count or 0), str(part.done_reason or "stop"))


def _generator(stream: AsyncIterator[Any]) -> AsyncGenerator[Any, None]:
    """The client's stream, typed as what it is (an async generator) so it can be closed when the caller stops."""
    return cast(AsyncGenerator[Any, None], stream)
