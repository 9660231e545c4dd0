"""The Ollama embedder against OllamaDouble (Ollama's documented ``/api/embed`` wire), and a closed port."""

from __future__ import annotations

import numpy
import pytest

from servers.kit.embedders.base import EmbedderError, EmbedderIdentity
from servers.kit.embedders.ollama import OllamaEmbedder
from servers.kit.embedders.settings import EmbedderSettings
from tests.servers.kit.embedders.support import closed_port
from tests.support.embedding_doubles import OllamaDouble

pytestmark = pytest.mark.anyio

WHERE = "vectorstore.embedders.ollama"


def ollama(double: OllamaDouble, **fields: object) -> OllamaEmbedder:
    settings = EmbedderSettings.model_validate({"kind": "ollama", "model": "nomic-embed-text", **fields})
    return OllamaEmbedder(settings, where=WHERE, transport=double.transport())


async def test_warming_probes_the_model_and_learns_its_dimension() -> None:
    double = OllamaDouble(models={"nomic-embed-text": 768})
    embedder = ollama(double)
    assert embedder.identity.dimension == 0
    await embedder.warm()
    assert embedder.warm_state == "warm"
    assert embedder.identity == EmbedderIdentity(kind="ollama", model="nomic-embed-text", dimension=768)
    assert double.requests == [{"model": "nomic-embed-text", "input": ["probing the embedding model"]}]
    await embedder.aclose()


async def test_texts_are_sent_in_batches_and_come_back_in_order_as_unit_rows() -> None:
    double = OllamaDouble(models={"nomic-embed-text": 16})
    embedder = ollama(double, batch_size=2)
    texts = ["one", "two", "three", "four", "five"]
    vectors = await embedder.embed(texts)
    assert vectors.shape == (5, 16)
    assert vectors.dtype == numpy.float32
    numpy.testing.assert_allclose(numpy.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert [request["input"] for request in double.requests[1:]] == [["one", "two"], ["three", "four"], ["five"]]
    (again,) = await embedder.embed(["four"])
    numpy.testing.assert_allclose(again, vectors[3], atol=1e-6)
    await embedder.aclose()


async def test_an_unknown_model_is_refused_naming_ollama_pull_and_the_setting() -> None:
    double = OllamaDouble(models={"nomic-embed-text": 768})
    embedder = ollama(double, model="mxbai-embed-large")
    with pytest.raises(EmbedderError) as caught:
        await embedder.warm()
    assert caught.value.code == "embedder_refused"
    text = str(caught.value)
    assert text.startswith("embedder_refused: Ollama at http://127.0.0.1:11434 has no model 'mxbai-embed-large'")
    assert "`ollama pull mxbai-embed-large`" in text
    assert f"{WHERE}.model" in text
    assert embedder.warm_state == "failed"
    # Once the model is pulled the same embedder warms: a failure is not sticky.
    double.models["mxbai-embed-large"] = 1024
    await embedder.warm()
    assert embedder.identity.dimension == 1024
    await embedder.aclose()


async def test_a_closed_port_is_unavailable_naming_the_url_setting() -> None:
    port = closed_port()
    settings = EmbedderSettings(kind="ollama", model="nomic-embed-text", url=f"http://127.0.0.1:{port}")
    embedder = OllamaEmbedder(settings, where=WHERE)
    with pytest.raises(EmbedderError) as caught:
        await embedder.embed(["hello"])
    assert caught.value.code == "embedder_unavailable"
    assert f"http://127.0.0.1:{port} cannot be reached" in str(caught.value)
    assert f"{WHERE}.url" in str(caught.value)
    assert embedder.warm_state == "failed"
    await embedder.aclose()


async def test_a_configured_dimension_that_the_model_does_not_give_fails_clearly() -> None:
    double = OllamaDouble(models={"nomic-embed-text": 768})
    embedder = ollama(double, dimension=384)
    with pytest.raises(EmbedderError) as caught:
        await embedder.warm()
    assert caught.value.code == "embedding_failed"
    assert "returned 768-dimension vectors" in str(caught.value)
    assert f"{WHERE}.dimension is 384" in str(caught.value)
    assert embedder.identity.dimension == 384  # what was configured stands
    await embedder.aclose()


async def test_a_model_whose_size_changes_after_warming_fails_and_keeps_the_first_size() -> None:
    double = OllamaDouble(models={"nomic-embed-text": 8})
    embedder = ollama(double)
    await embedder.warm()
    double.wrong_dimension = True
    with pytest.raises(EmbedderError) as caught:
        await embedder.embed(["x"])
    assert caught.value.code == "embedding_failed"
    assert "returned 9-dimension vectors" in str(caught.value)
    assert embedder.identity.dimension == 8
    await embedder.aclose()


async def test_a_busy_server_is_retried_then_answers() -> None:
    double = OllamaDouble(models={"nomic-embed-text": 8}, unavailable=1)
    embedder = ollama(double, max_retries=1)
    vectors = await embedder.embed(["retry me"])
    assert vectors.shape == (1, 8)
    await embedder.aclose()


async def test_a_server_busy_past_the_retries_is_unavailable() -> None:
    double = OllamaDouble(models={"nomic-embed-text": 8}, unavailable=5)
    embedder = ollama(double, max_retries=0)
    with pytest.raises(EmbedderError) as caught:
        await embedder.warm()
    assert caught.value.code == "embedder_unavailable"
    assert "503" in str(caught.value)
    await embedder.aclose()


async def test_an_empty_list_asks_nothing_after_warming() -> None:
    double = OllamaDouble(models={"nomic-embed-text": 8})
    embedder = ollama(double)
    vectors = await embedder.embed([])
    assert vectors.shape == (0, 8)
    assert len(double.requests) == 1  # the probe only
    await embedder.aclose()
