"""Embeddings from an OpenAI-compatible API: ``POST {url}/embeddings`` with a bearer key.

The request is ``{"model", "input": [...], "encoding_format": "float"}`` plus ``"dimensions"``
when the settings name one (text-embedding-3 models shorten their vectors to it); the answer
``{"data": [{"index", "embedding"}]}`` is put back in input order by ``index``. Errors come as
``{"error": {"message", "type", "code"}}``: 401 (``invalid_api_key``) and 403 name the key's
settings, 404 the model, 429 the rate limit (after the retries), 5xx is ``embedder_unavailable``.
The key never appears in a message.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from servers.kit.embedders.base import EmbedderError, EmbedderKind
from servers.kit.embedders.remote import RemoteEmbedder


class OpenAICompatibleEmbedder(RemoteEmbedder):
    """OpenAI's embeddings API, or any server speaking it (vLLM, LiteLLM, llama.cpp, Azure-style proxies)."""

    kind: EmbedderKind = "openai"
    service = "the OpenAI-compatible endpoint"

    def headers(self) -> dict[str, str]:
        key = self.settings.resolved_api_key()
        return {"Authorization": f"Bearer {key}"} if key else {}

    def request(self, texts: Sequence[str]) -> tuple[str, dict[str, Any]]:
        payload: dict[str, Any] = {"model": self.settings.model, "input": list(texts), "encoding_format": "float"}
        if self.settings.dimension is not None:
            payload["dimensions"] = self.settings.dimension
        return f"{self.url}/embeddings", payload

    def vectors(self, body: Any, count: int) -> list[Any]:
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            raise self._failed("answered without a `data` list")
        rows: list[Any] = [None] * len(data)
        for position, item in enumerate(data):
            if not isinstance(item, dict) or "embedding" not in item:
                raise self._failed("answered `data` items without an `embedding`")
            index = item.get("index", position)
            if not isinstance(index, int) or not 0 <= index < len(data) or rows[index] is not None:
                raise self._failed("answered `data` items whose `index` values are not 0..n-1 once each")
            rows[index] = item["embedding"]
        return rows

    def refusal(self, status: int, body: Any, text: str) -> EmbedderError:
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            detail = str(error.get("message") or error.get("code") or f"HTTP {status}")
        else:
            detail = str(error) if error else (text or f"HTTP {status}")
        model = self.settings.model
        where = self.where
        if status in (401, 403):
            key = f"{where}.api_key or the variable named by {where}.api_key_env"
            return EmbedderError(
                "embedder_refused",
                f"the OpenAI-compatible endpoint at {self.url} refused the API key ({status}: {detail}); set {key}",
            )
        if status == 404:
            return EmbedderError(
                "embedder_refused",
                f"the OpenAI-compatible endpoint at {self.url} has no model {model!r} ({detail}); set {where}.model",
            )
        if status == 429:
            return EmbedderError(
                "embedder_refused",
                f"the OpenAI-compatible endpoint at {self.url} rate-limited the request after "
                f"{self.settings.max_retries} retries ({detail}); retry later, lower {where}.batch_size, "
                "or raise the account's limits",
            )
        if status >= 500 and status != 501:
            return EmbedderError(
                "embedder_unavailable",
                f"the OpenAI-compatible endpoint at {self.url} failed ({status}: {detail}); retry later",
            )
        return EmbedderError(
            "embedder_refused",
            f"the OpenAI-compatible endpoint at {self.url} refused to embed with the model {model!r} "
            f"({status}: {detail}); check {where}.model and {where}.dimension",
        )
