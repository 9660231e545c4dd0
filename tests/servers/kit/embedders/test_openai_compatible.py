"""The OpenAI-compatible embedder against OpenAIDouble (OpenAI's documented ``/v1/embeddings`` wire)."""

from __future__ import annotations

import numpy
import pytest

from servers.kit.embedders.base import EmbedderError, EmbedderIdentity
from servers.kit.embedders.openai_compatible import OpenAICompatibleEmbedder
from servers.kit.embedders.settings import EmbedderSettings
from tests.support.embedding_doubles import OpenAIDouble, fake_vector

pytestmark = pytest.mark.anyio

URL = "https://api.openai.test/v1"
WHERE = "vectorstore.embedders.openai"
MODEL = "text-embedding-3-small"


def openai(double: OpenAIDouble, **fields: object) -> OpenAICompatibleEmbedder:
    values = {"kind": "openai", "model": MODEL, "url": URL, "api_key": double.api_key, **fields}
    settings = EmbedderSettings.model_validate(values)
    return OpenAICompatibleEmbedder(settings, where=WHERE, transport=double.transport())


async def test_vectors_come_back_normalised_in_input_order_even_when_data_is_not() -> None:
    double = OpenAIDouble(models={MODEL: 12}, reverse_order=True)
    embedder = openai(double)
    vectors = await embedder.embed(["alpha", "beta", "gamma"])
    expected = numpy.asarray([fake_vector(MODEL, text, 12) for text in ["alpha", "beta", "gamma"]])
    expected /= numpy.linalg.norm(expected, axis=1, keepdims=True)
    numpy.testing.assert_allclose(vectors, expected, atol=1e-6)
    assert embedder.identity == EmbedderIdentity(kind="openai", model=MODEL, dimension=12)
    assert double.requests[-1] == {"model": MODEL, "input": ["alpha", "beta", "gamma"], "encoding_format": "float"}
    await embedder.aclose()


async def test_a_configured_dimension_is_sent_as_dimensions_and_known_before_warming() -> None:
    double = OpenAIDouble(models={MODEL: 1536})
    embedder = openai(double, dimension=256)
    assert embedder.identity.dimension == 256
    vectors = await embedder.embed(["short"])
    assert vectors.shape == (1, 256)
    assert double.requests[-1]["dimensions"] == 256
    await embedder.aclose()


async def test_an_endpoint_answering_another_dimension_fails_naming_the_setting() -> None:
    double = OpenAIDouble(models={MODEL: 1536}, wrong_dimension=True)
    embedder = openai(double, dimension=256)
    with pytest.raises(EmbedderError) as caught:
        await embedder.embed(["short"])
    assert caught.value.code == "embedding_failed"
    assert "returned 257-dimension vectors" in str(caught.value)
    assert f"{WHERE}.dimension is 256" in str(caught.value)
    await embedder.aclose()


async def test_a_wrong_key_is_refused_naming_the_key_settings_without_showing_the_key() -> None:
    double = OpenAIDouble(models={MODEL: 8})
    embedder = openai(double, api_key="sk-wrong-secret-value")
    with pytest.raises(EmbedderError) as caught:
        await embedder.warm()
    text = str(caught.value)
    assert caught.value.code == "embedder_refused"
    assert "refused the API key (401: Incorrect API key provided" in text
    assert f"{WHERE}.api_key" in text
    assert f"{WHERE}.api_key_env" in text
    assert "wrong-secret" not in text
    assert embedder.warm_state == "failed"
    await embedder.aclose()


async def test_the_key_is_read_from_the_variable_named_by_api_key_env(monkeypatch: pytest.MonkeyPatch) -> None:
    double = OpenAIDouble(models={MODEL: 8})
    monkeypatch.setenv("EMBED_TEST_KEY", double.api_key)
    settings = EmbedderSettings(kind="openai", model=MODEL, url=URL, api_key_env="EMBED_TEST_KEY")
    embedder = OpenAICompatibleEmbedder(settings, transport=double.transport())
    await embedder.warm()
    assert embedder.warm_state == "warm"
    await embedder.aclose()


async def test_no_key_at_all_sends_no_authorization_and_the_refusal_says_so() -> None:
    double = OpenAIDouble(models={MODEL: 8})
    settings = EmbedderSettings(kind="openai", model=MODEL, url=URL)
    embedder = OpenAICompatibleEmbedder(settings, transport=double.transport())
    with pytest.raises(EmbedderError) as caught:
        await embedder.warm()
    assert "You didn't provide an API key" in str(caught.value)
    await embedder.aclose()


async def test_rate_limits_are_retried_after_retry_after_then_answered() -> None:
    double = OpenAIDouble(models={MODEL: 8}, rate_limited=2)
    embedder = openai(double, max_retries=2)
    vectors = await embedder.embed(["patience"])
    assert vectors.shape == (1, 8)
    assert double.rate_limited == 0
    await embedder.aclose()


async def test_a_rate_limit_past_the_retries_is_refused_saying_what_to_do() -> None:
    double = OpenAIDouble(models={MODEL: 8}, rate_limited=10)
    embedder = openai(double, max_retries=1)
    with pytest.raises(EmbedderError) as caught:
        await embedder.warm()
    assert caught.value.code == "embedder_refused"
    assert "rate-limited the request after 1 retries" in str(caught.value)
    assert f"{WHERE}.batch_size" in str(caught.value)
    assert double.rate_limited == 8  # asked twice, no more
    await embedder.aclose()


async def test_an_unknown_model_is_refused_naming_the_model_setting() -> None:
    double = OpenAIDouble(models={MODEL: 8})
    embedder = openai(double, model="text-embedding-4-huge")
    with pytest.raises(EmbedderError) as caught:
        await embedder.warm()
    assert caught.value.code == "embedder_refused"
    assert "has no model 'text-embedding-4-huge'" in str(caught.value)
    assert f"{WHERE}.model" in str(caught.value)
    await embedder.aclose()


async def test_a_model_that_cannot_shorten_is_refused_naming_the_dimension_setting() -> None:
    double = OpenAIDouble(models={"text-embedding-ada-002": 1536}, shortenable=False)
    embedder = openai(double, model="text-embedding-ada-002", dimension=256)
    with pytest.raises(EmbedderError) as caught:
        await embedder.warm()
    assert caught.value.code == "embedder_refused"
    assert "does not support specifying dimensions" in str(caught.value)
    assert f"{WHERE}.dimension" in str(caught.value)
    await embedder.aclose()


async def test_an_overloaded_endpoint_is_unavailable() -> None:
    double = OpenAIDouble(models={MODEL: 8}, unavailable=3)
    embedder = openai(double, max_retries=0)
    with pytest.raises(EmbedderError) as caught:
        await embedder.warm()
    assert caught.value.code == "embedder_unavailable"
    await embedder.aclose()
