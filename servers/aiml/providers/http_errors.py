"""HTTP failures of a remote provider as coded errors: unreachable and 5xx move on, 4xx refuse."""

from __future__ import annotations

import httpx

from servers.aiml.errors import AimlError, model_not_found, refused, unavailable


def transport_failure(provider: str, exc: httpx.HTTPError) -> AimlError:
    if isinstance(exc, httpx.TimeoutException):
        return unavailable(provider, "timed out")
    return unavailable(provider, type(exc).__name__)


def status_failure(provider: str, model: str, status: int, body: str) -> AimlError:
    """The error of an answer with ``status`` (>= 400); ``body`` is the provider's own text, shortened."""
    text = body.strip().replace("\n", " ")[:300]
    if status >= 500 or status == 429:
        return unavailable(provider, f"HTTP {status}: {text}")
    if status == 404 and "model" in text.lower():
        return model_not_found(provider, model)
    return refused(provider, f"HTTP {status}: {text}")
