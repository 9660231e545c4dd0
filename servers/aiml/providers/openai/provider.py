"""The ``openai`` provider: ``/models``, ``/completions``, ``/chat/completions`` (streamed, tools passed
through, images as ``image_url`` content parts with ``data:`` URIs), ``/embeddings`` and
``/audio/transcriptions`` (:mod:`.transcriptions`) of any OpenAI-compatible API. ``/models`` tells no
capability: ``vision_models`` and ``audio_models`` of the provider's settings name the models that
see and hear.

Streams are server-sent events (``data: {...}`` lines ending with ``data: [DONE]``); usage comes from
the last chunk when the endpoint sends it (``stream_options.include_usage``), else completion tokens
are counted one per text chunk and the prompt's estimated from its length.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncGenerator, Sequence
from fnmatch import fnmatchcase
from typing import Any

import httpx

from servers.aiml.errors import AimlError
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
    ModelKind,
    Provider,
    Transcription,
)
from servers.aiml.providers.http_errors import status_failure, transport_failure
from servers.aiml.providers.openai.transcriptions import transcribe
from servers.aiml.settings import ProviderSettings

CHARS_PER_TOKEN = 4
IMAGE_CHARS = 1024
"""An image's prompt size for the estimate when the endpoint sends no usage (about 256 tokens)."""
EMBEDDING_HINTS = ("embed", "minilm", "bge", "e5-", "gte-")


class OpenAIProvider(Provider):
    kind = "openai"

    def __init__(self, name: str, settings: ProviderSettings) -> None:
        super().__init__(name, settings)
        key = settings.resolved_api_key()
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.client = httpx.AsyncClient(
            base_url=settings.base_url(), headers=headers, timeout=httpx.Timeout(settings.timeout_seconds)
        )

    async def health(self) -> Health:
        try:
            answer = await self.client.get("/models", timeout=min(5.0, self.settings.timeout_seconds))
        except httpx.HTTPError as exc:
            return Health(False, transport_failure(self.name, exc).detail)
        if answer.status_code >= 400:
            return Health(False, f"HTTP {answer.status_code}")
        return Health(True, "ok")

    async def models(self) -> list[ModelCard]:
        body = await self._json("GET", "/models", "", None)
        cards = []
        for item in body.get("data") or []:
            name = str(item.get("id"))
            kind, capabilities = self._kind_of(name)
            cards.append(
                ModelCard(
                    provider=self.name,
                    name=name,
                    kind=kind,
                    capabilities=capabilities,
                    details={k: v for k, v in item.items() if k in ("owned_by", "created")},
                )
            )
        return cards

    def _kind_of(self, name: str) -> tuple[ModelKind, tuple[Capability, ...]]:
        """A model's kind and capabilities: ``/models`` says neither, so names and the operator's globs do."""
        if any(fnmatchcase(name, glob) for glob in self.settings.audio_models):
            return "transcription", ("audio",)
        if any(hint in name.lower() for hint in EMBEDDING_HINTS):
            return "embedding", ("embedding",)
        sees = any(fnmatchcase(name, glob) for glob in self.settings.vision_models)
        return "generation", ("completion", "chat", "tools", *(("vision",) if sees else ()))

    async def _json(self, method: str, path: str, model: str, payload: dict[str, Any] | None) -> dict[str, Any]:
        try:
            answer = await self.client.request(method, path, json=payload)
        except httpx.HTTPError as exc:
            raise transport_failure(self.name, exc) from None
        if answer.status_code >= 400:
            raise status_failure(self.name, model, answer.status_code, answer.text)
        try:
            body = answer.json()
        except ValueError:
            raise AimlError("provider_refused", f"the provider {self.name!r} answered with no JSON") from None
        return body if isinstance(body, dict) else {}

    def complete(self, model: str, prompt: str, options: GenerationOptions) -> AsyncGenerator[Event, None]:
        payload = {"model": model, "prompt": prompt, **self._options(options)}
        return self._stream("/completions", model, payload, len(prompt))

    def chat(
        self, model: str, messages: Sequence[dict[str, Any]], options: GenerationOptions
    ) -> AsyncGenerator[Event, None]:
        payload: dict[str, Any] = {"model": model, "messages": list(messages), **self._options(options)}
        if options.tools:
            payload["tools"] = list(options.tools)
        size = sum(len(str(m.get("content") or "")) for m in messages)
        return self._stream("/chat/completions", model, payload, size)

    def describe(
        self, model: str, prompt: str, images: Sequence[Media], options: GenerationOptions
    ) -> AsyncGenerator[Event, None]:
        content = [{"type": "text", "text": prompt}, *(image_part(image) for image in images)]
        payload: dict[str, Any] = {
            "model": model,
            "messages": [{"role": "user", "content": content}],
            **self._options(options),
        }
        return self._stream("/chat/completions", model, payload, len(prompt) + IMAGE_CHARS * len(images))

    async def transcribe(self, model: str, audio: Media, language: str | None) -> Transcription:
        return await transcribe(self.client, self.name, model, audio, language)

    @staticmethod
    def _options(options: GenerationOptions) -> dict[str, Any]:
        out: dict[str, Any] = {
            "max_tokens": options.max_tokens,
            "temperature": options.temperature,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if options.stop:
            out["stop"] = list(options.stop)
        return out

    async def _stream(
        self, path: str, model: str, payload: dict[str, Any], prompt_chars: int
    ) -> AsyncGenerator[Event, None]:
        chunks = 0
        usage: dict[str, Any] = {}
        finish = "stop"
        calls: dict[int, dict[str, Any]] = {}
        try:
            async with self.client.stream("POST", path, json=payload) as answer:
                if answer.status_code >= 400:
                    body = (await answer.aread()).decode("utf-8", "replace")
                    raise status_failure(self.name, model, answer.status_code, body)
                async for line in answer.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    chunk = json.loads(data)
                    usage = chunk.get("usage") or usage
                    for choice in chunk.get("choices") or []:
                        text = choice.get("text")
                        delta = choice.get("delta") or {}
                        text = text if text is not None else delta.get("content")
                        for call in delta.get("tool_calls") or []:
                            _merge_tool_call(calls, call)
                        if choice.get("finish_reason"):
                            finish = str(choice["finish_reason"])
                        if text:
                            chunks += 1
                            yield Delta(text=text)
        except httpx.HTTPError as exc:
            raise transport_failure(self.name, exc) from None
        except json.JSONDecodeError:
            raise AimlError(
                "provider_refused", f"the provider {self.name!r} streamed a line that is not JSON"
            ) from None
        if calls:
            yield Delta(tool_calls=tuple(calls[i] for i in sorted(calls)))
        yield Done(
            prompt_tokens=int(usage.get("prompt_tokens") or max(1, prompt_chars // CHARS_PER_TOKEN)),
            completion_tokens=int(usage.get("completion_tokens") or chunks),
            finish_reason=finish,
        )

    async def embed(self, model: str, texts: Sequence[str]) -> Embeddings:
        body = await self._json("POST", "/embeddings", model, {"model": model, "input": list(texts)})
        rows = sorted(body.get("data") or [], key=lambda item: int(item.get("index", 0)))
        vectors = [[float(x) for x in row.get("embedding") or []] for row in rows]
        if len(vectors) != len(texts):
            raise AimlError(
                "provider_refused", f"the provider {self.name!r} returned {len(vectors)} vectors for {len(texts)} texts"
            )
        usage = body.get("usage") or {}
        tokens = usage.get("prompt_tokens")
        if tokens is None:
            return Embeddings(vectors, sum(max(1, len(t) // CHARS_PER_TOKEN) for t in texts), True)
        return Embeddings(vectors, int(tokens), False)

    async def aclose(self) -> None:
        await self.client.aclose()


def image_part(image: Media) -> dict[str, Any]:
    """An image as a chat content part: a base64 ``data:`` URI in ``image_url``."""
    url = f"data:{image.mime_type};base64,{base64.b64encode(image.data).decode('ascii')}"
    return {"type": "image_url", "image_url": {"url": url}}


def _merge_tool_call(calls: dict[int, dict[str, Any]], part: dict[str, Any]) -> None:
    """Streamed tool calls arrive in pieces by index: the name once, the arguments in fragments."""
    index = int(part.get("index", len(calls)))
    call = calls.setdefault(index, {"id": part.get("id"), "name": "", "arguments": ""})
    function = part.get("function") or {}
    call["id"] = call["id"] or part.get("id")
    call["name"] += function.get("name") or ""
    call["arguments"] += function.get("arguments") or ""
