"""Doubles of the embedding APIs that cannot run here: Ollama's ``/api/embed`` and OpenAI's ``/v1/embeddings``.

Each reproduces its service's documented wire behaviour, failures included, as an
``httpx.MockTransport`` handler (``double.transport()``):

* :class:`OllamaDouble`: ``POST /api/embed {"model", "input": str | [str]}`` ->
  ``{"model", "embeddings": [[...]], "total_duration", "load_duration", "prompt_eval_count"}``;
  an unknown model is 404 ``{"error": "model \\"x\\" not found, try pulling it first"}``; a
  missing ``model`` is 400 ``{"error": "model is required"}``.
* :class:`OpenAIDouble`: ``POST /v1/embeddings {"model", "input", "dimensions"?, "encoding_format"?}``
  with ``Authorization: Bearer <key>`` -> ``{"object": "list", "data": [{"object": "embedding",
  "index", "embedding"}], "model", "usage"}``; a wrong key is 401 ``{"error": {"message",
  "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}}``; an unknown
  model is 404 ``model_not_found``; a rate limit is 429 ``rate_limit_exceeded`` with
  ``retry-after``.

Vectors are deterministic per (model, text), so a test can compare two answers. Knobs make the
failures a test needs: ``rate_limited`` (how many 429s come before an answer), ``unavailable``
(how many 503s), ``wrong_dimension`` (answer vectors one longer than the model's),
``reverse_order`` (OpenAI ``data`` items out of order, as the API permits).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy


def fake_vector(model: str, text: str, dimension: int) -> list[float]:
    """A deterministic, not normalised vector for ``text`` (what a model would answer)."""
    seed = int.from_bytes(hashlib.sha256(f"{model}\x00{text}".encode()).digest()[:8], "little")
    return [float(x) for x in numpy.random.default_rng(seed).normal(size=dimension) * 3.0]


def _inputs(value: Any) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    return None


@dataclass
class _Double:
    models: dict[str, int]
    rate_limited: int = 0
    unavailable: int = 0
    wrong_dimension: bool = False
    requests: list[dict[str, Any]] = field(default_factory=list)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        raise NotImplementedError

    def _dimension(self, model: str) -> int:
        return self.models[model] + (1 if self.wrong_dimension else 0)


@dataclass
class OllamaDouble(_Double):
    """An Ollama server (0.3+) with ``models`` pulled: name -> dimension."""

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.method != "POST" or request.url.path != "/api/embed":
            return httpx.Response(404, text="404 page not found")
        body = json.loads(request.content)
        self.requests.append(body)
        if self.unavailable > 0:
            self.unavailable -= 1
            return httpx.Response(
                503, json={"error": "server busy, please try again. maximum pending requests exceeded"}
            )
        model = body.get("model")
        if not model:
            return httpx.Response(400, json={"error": "model is required"})
        if model not in self.models:
            return httpx.Response(404, json={"error": f'model "{model}" not found, try pulling it first'})
        texts = _inputs(body.get("input"))
        if texts is None:
            return httpx.Response(400, json={"error": "invalid input type"})
        size = self._dimension(model)
        rows = [numpy.asarray(fake_vector(model, text, size)) for text in texts]
        # Ollama answers L2-normalised vectors.
        embeddings = [[float(x) for x in row / numpy.linalg.norm(row)] for row in rows]
        return httpx.Response(
            200,
            json={
                "model": model,
                "embeddings": embeddings,
                "total_duration": 14143917,
                "load_duration": 1019500,
                "prompt_eval_count": sum(len(text.split()) for text in texts),
            },
        )


@dataclass
class OpenAIDouble(_Double):
    """OpenAI's embeddings endpoint (base URL ``https://api.openai.test/v1``) accepting one ``api_key``."""

    api_key: str = "sk-test-double"
    reverse_order: bool = False
    shortenable: bool = True  # text-embedding-3 models honour `dimensions`

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.method != "POST" or not request.url.path.endswith("/v1/embeddings"):
            return self._error(404, "Invalid URL", "invalid_request_error", None)
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            supplied = request.headers.get("authorization", "").removeprefix("Bearer ")
            message = (
                f"Incorrect API key provided: {supplied[:3]}***. You can find your API key at "
                "https://platform.openai.com/account/api-keys."
                if supplied
                else "You didn't provide an API key."
            )
            return self._error(401, message, "invalid_request_error", "invalid_api_key")
        body = json.loads(request.content)
        self.requests.append(body)
        if self.rate_limited > 0:
            self.rate_limited -= 1
            return self._error(
                429,
                "Rate limit reached for requests. Please try again in 20ms.",
                "requests",
                "rate_limit_exceeded",
                headers={"retry-after": "0"},
            )
        if self.unavailable > 0:
            self.unavailable -= 1
            return self._error(503, "The server is overloaded or not ready yet.", "server_error", None)
        model = body.get("model")
        if model not in self.models:
            return self._error(
                404,
                f"The model `{model}` does not exist or you do not have access to it.",
                "invalid_request_error",
                "model_not_found",
            )
        texts = _inputs(body.get("input"))
        if texts is None:
            return self._error(400, "'input' is a required property", "invalid_request_error", None)
        size = self._dimension(model)
        if "dimensions" in body:
            if not self.shortenable:
                return self._error(
                    400, "This model does not support specifying dimensions.", "invalid_request_error", None
                )
            size = int(body["dimensions"]) + (1 if self.wrong_dimension else 0)
        data = [
            {"object": "embedding", "index": index, "embedding": fake_vector(model, text, size)}
            for index, text in enumerate(texts)
        ]
        if self.reverse_order:
            data.reverse()
        tokens = sum(len(text.split()) for text in texts)
        return httpx.Response(
            200,
            json={
                "object": "list",
                "data": data,
                "model": model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )

    @staticmethod
    def _error(
        status: int, message: str, kind: str, code: str | None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return httpx.Response(
            status,
            json={"error": {"message": message, "type": kind, "param": None, "code": code}},
            headers=headers,
        )
