"""What the Ollama and OpenAI-compatible embedders share: the HTTP client, retries, probing, checks.

A remote embedder knows its dimension from the settings or, failing that, from its first answer:
:meth:`RemoteEmbedder.warm` embeds one probe sentence (which also proves the endpoint, the model
and the key). Every answer is checked: one vector per text, every vector of the identity's
dimension, numbers only; rows are L2-normalised here whatever the endpoint did.

A 429 or 503 answer is retried up to ``max_retries`` times, after its ``Retry-After`` (capped at
the request timeout) or a short backoff. A refused connection, a timeout or a 5xx answer is
``embedder_unavailable``; any other error answer is ``embedder_refused``; an answer that is not
what the API documents is ``embedding_failed``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import anyio
import httpx
import numpy

from servers.kit.embedders.base import (
    EmbedderError,
    EmbedderIdentity,
    EmbedderKind,
    Vectors,
    WarmState,
    batches,
    empty,
    normalised,
)
from servers.kit.embedders.settings import EmbedderSettings

PROBE_TEXT = "probing the embedding model"
_RETRIED = {429, 503}
_BACKOFF_SECONDS = 0.5


class RemoteEmbedder:
    """An embedder behind an HTTP API; subclasses say how to ask and how to read the answer."""

    kind: EmbedderKind
    service: str  # how messages name the endpoint: "Ollama", "the OpenAI-compatible endpoint"

    def __init__(
        self,
        settings: EmbedderSettings,
        *,
        where: str = "embedders.default",
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.where = where
        self.url = settings.base_url()
        self._dimension = settings.dimension or 0
        self._state: WarmState = "cold"
        self._warm_lock = anyio.Lock()
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.timeout_seconds), transport=transport, headers=self.headers()
        )

    # -- what a subclass provides --------------------------------------------------------------

    def headers(self) -> dict[str, str]:
        return {}

    def request(self, texts: Sequence[str]) -> tuple[str, dict[str, Any]]:
        """``(url, JSON body)`` of one embedding request."""
        raise NotImplementedError

    def vectors(self, body: Any, count: int) -> list[Any]:
        """The list of ``count`` vectors in a successful answer's JSON, in input order."""
        raise NotImplementedError

    def refusal(self, status: int, body: Any, text: str) -> EmbedderError:
        """The error for an error answer (``status`` >= 400)."""
        raise NotImplementedError

    # -- the protocol --------------------------------------------------------------------------

    @property
    def identity(self) -> EmbedderIdentity:
        return EmbedderIdentity(kind=self.kind, model=self.settings.model, dimension=self._dimension)

    @property
    def warm_state(self) -> WarmState:
        return self._state

    async def warm(self) -> None:
        """Embed one probe sentence: proves the endpoint, the model and the key, and learns the dimension."""
        if self._state == "warm":
            return
        async with self._warm_lock:
            if self.warm_state == "warm":  # warmed by the call this one waited for
                return
            self._state = "warming"
            try:
                await self._embed_batch([PROBE_TEXT])
            except BaseException:
                self._state = "failed"
                raise
            self._state = "warm"

    async def embed(self, texts: Sequence[str]) -> Vectors:
        await self.warm()
        if not texts:
            return empty(self._dimension)
        parts = [await self._embed_batch(batch) for batch in batches(texts, self.settings.batch_size)]
        return parts[0] if len(parts) == 1 else numpy.vstack(parts)

    async def aclose(self) -> None:
        await self._client.aclose()

    # -- one request ---------------------------------------------------------------------------

    async def _embed_batch(self, texts: Sequence[str]) -> Vectors:
        url, payload = self.request(texts)
        response = await self._post(url, payload)
        try:
            body = response.json()
        except ValueError:
            raise self._failed(f"answered {response.status_code} with a body that is not JSON") from None
        rows = self.vectors(body, len(texts))
        return self._checked(rows, len(texts))

    async def _post(self, url: str, payload: dict[str, Any]) -> httpx.Response:
        attempt = 0
        while True:
            try:
                response = await self._client.post(url, json=payload)
            except httpx.TimeoutException:
                raise EmbedderError(
                    "embedder_unavailable",
                    f"{self.service} at {self.url} did not answer within {self.settings.timeout_seconds:g} s; "
                    f"check that it runs, or raise {self.where}.timeout_seconds",
                ) from None
            except httpx.HTTPError as exc:
                raise EmbedderError(
                    "embedder_unavailable",
                    f"{self.service} at {self.url} cannot be reached ({type(exc).__name__}: {exc}); "
                    f"start it, or set {self.where}.url to where it listens",
                ) from None
            if response.status_code < 400:
                return response
            if response.status_code in _RETRIED and attempt < self.settings.max_retries:
                attempt += 1
                await anyio.sleep(self._retry_after(response, attempt))
                continue
            try:
                body: Any = response.json()
            except ValueError:
                body = None
            raise self.refusal(response.status_code, body, response.text[:300])

    def _retry_after(self, response: httpx.Response, attempt: int) -> float:
        header = response.headers.get("retry-after", "")
        try:
            seconds = float(header)
        except ValueError:
            seconds = _BACKOFF_SECONDS * 2 ** (attempt - 1)
        if not math.isfinite(seconds) or seconds < 0:
            seconds = 0.0
        return min(seconds, self.settings.timeout_seconds)

    def _checked(self, rows: list[Any], count: int) -> Vectors:
        if len(rows) != count:
            raise self._failed(f"returned {len(rows)} vectors for {count} texts")
        try:
            matrix = numpy.asarray(rows, dtype=numpy.float64)
        except (TypeError, ValueError):
            raise self._failed("returned vectors that are not lists of numbers of one length") from None
        if matrix.ndim != 2 or matrix.shape[1] == 0 or not numpy.isfinite(matrix).all():
            raise self._failed("returned vectors that are not lists of finite numbers of one length")
        size = int(matrix.shape[1])
        if self._dimension and size != self._dimension:
            source = (
                f"{self.where}.dimension is {self._dimension}"
                if self.settings.dimension
                else f"its first answer had {self._dimension}"
            )
            raise EmbedderError(
                "embedding_failed",
                f"{self.service} at {self.url} returned {size}-dimension vectors for the model "
                f"{self.settings.model!r}, but {source}; set {self.where}.dimension to {size} "
                "(collections embedded at the old size need re-embedding) or use another model",
            )
        self._dimension = size
        return normalised(matrix)

    def _failed(self, what: str) -> EmbedderError:
        return EmbedderError(
            "embedding_failed",
            f"{self.service} at {self.url} {what} (model {self.settings.model!r}); "
            f"check that {self.where}.url points at the right API",
        )
