"""Embeddings from an Ollama server: ``POST /api/embed {"model", "input": [...]}`` -> ``{"embeddings"}``.

Ollama answers an unknown model with 404 ``{"error": "model \"x\" not found, try pulling it
first"}``: that is ``embedder_refused`` naming ``ollama pull``. Any other error answer carries
``{"error": "..."}`` too and is passed on in the message.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from servers.kit.embedders.base import EmbedderError, EmbedderKind
from servers.kit.embedders.remote import RemoteEmbedder


class OllamaEmbedder(RemoteEmbedder):
    """A model served by Ollama (``/api/embed``, Ollama 0.3 and later)."""

    kind: EmbedderKind = "ollama"
    service = "Ollama"

    def request(self, texts: Sequence[str]) -> tuple[str, dict[str, Any]]:
        return f"{self.url}/api/embed", {"model": self.settings.model, "input": list(texts)}

    def vectors(self, body: Any, count: int) -> list[Any]:
        rows = body.get("embeddings") if isinstance(body, dict) else None
        if not isinstance(rows, list):
            raise self._failed("answered without an `embeddings` list (is it an Ollama older than 0.3?)")
        return rows

    def refusal(self, status: int, body: Any, text: str) -> EmbedderError:
        message = body.get("error") if isinstance(body, dict) else None
        detail = str(message) if message else text or f"HTTP {status}"
        model = self.settings.model
        if status == 404 and "not found" in detail:
            return EmbedderError(
                "embedder_refused",
                f"Ollama at {self.url} has no model {model!r}; run `ollama pull {model}` or set {self.where}.model",
            )
        if status >= 500 and status != 501:
            return EmbedderError(
                "embedder_unavailable",
                f"Ollama at {self.url} failed on the model {model!r} ({status}: {detail}); "
                "check the Ollama server's log and retry",
            )
        return EmbedderError(
            "embedder_refused",
            f"Ollama at {self.url} refused to embed with the model {model!r} ({status}: {detail}); "
            f"check that it is an embedding model, or set {self.where}.model",
        )
