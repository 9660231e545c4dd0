"""The remote embedders against real services, when their addresses are set.

``OLLAMA_HOST`` (and ``OLLAMA_EMBED_MODEL``, default ``nomic-embed-text``, already pulled);
``OPENAI_BASE_URL`` with ``OPENAI_API_KEY`` (and ``OPENAI_EMBED_MODEL``, default
``text-embedding-3-small``).
"""

from __future__ import annotations

import os

import numpy
import pytest

from servers.kit.embedders.base import EmbedderError
from servers.kit.embedders.ollama import OllamaEmbedder
from servers.kit.embedders.openai_compatible import OpenAICompatibleEmbedder
from servers.kit.embedders.settings import EmbedderSettings

pytestmark = [pytest.mark.anyio, pytest.mark.live]

needs_ollama = pytest.mark.skipif(not os.environ.get("OLLAMA_HOST"), reason="OLLAMA_HOST is not set")
needs_openai = pytest.mark.skipif(
    not (os.environ.get("OPENAI_BASE_URL") and os.environ.get("OPENAI_API_KEY")),
    reason="OPENAI_BASE_URL and OPENAI_API_KEY are not set",
)


def ollama_url() -> str:
    host = os.environ["OLLAMA_HOST"]
    return host if host.startswith("http") else f"http://{host}"


@needs_ollama
async def test_live_ollama_embeds_unit_rows_of_one_dimension() -> None:
    model = os.environ.get("OLLAMA_EMBED_MODEL", "nomic-embed-text")
    embedder = OllamaEmbedder(EmbedderSettings(kind="ollama", model=model, url=ollama_url()))
    vectors = await embedder.embed(["a cat on a mat", "a kitten on a rug", "bond yields rose"])
    assert vectors.shape == (3, embedder.identity.dimension)
    numpy.testing.assert_allclose(numpy.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert float(vectors[0] @ vectors[1]) > float(vectors[0] @ vectors[2])
    await embedder.aclose()


@needs_ollama
async def test_live_ollama_refuses_a_model_it_does_not_have() -> None:
    embedder = OllamaEmbedder(EmbedderSettings(kind="ollama", model="no-such-model-mcp-suite", url=ollama_url()))
    with pytest.raises(EmbedderError) as caught:
        await embedder.warm()
    assert caught.value.code == "embedder_refused"
    assert "`ollama pull no-such-model-mcp-suite`" in str(caught.value)
    await embedder.aclose()


@needs_openai
async def test_live_openai_compatible_embeds_with_the_asked_dimension() -> None:
    model = os.environ.get("OPENAI_EMBED_MODEL", "text-embedding-3-small")
    settings = EmbedderSettings(
        kind="openai", model=model, url=os.environ["OPENAI_BASE_URL"], api_key_env="OPENAI_API_KEY", dimension=256
    )
    embedder = OpenAICompatibleEmbedder(settings)
    vectors = await embedder.embed(["hello", "world"])
    assert vectors.shape == (2, 256)
    await embedder.aclose()


@needs_openai
async def test_live_openai_compatible_refuses_a_wrong_key() -> None:
    settings = EmbedderSettings(
        kind="openai", model="text-embedding-3-small", url=os.environ["OPENAI_BASE_URL"], api_key="sk-wrong"
    )
    embedder = OpenAICompatibleEmbedder(settings)
    with pytest.raises(EmbedderError) as caught:
        await embedder.warm()
    assert caught.value.code == "embedder_refused"
    await embedder.aclose()
