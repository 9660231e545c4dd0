"""Building embedders from settings, and a server's named set of them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from servers.kit.embedders.base import EmbedderError, EmbedderIdentity
from servers.kit.embedders.cache import CachedEmbedder
from servers.kit.embedders.factory import EmbedderSet, build_embedder
from servers.kit.embedders.local import LocalEmbedder
from servers.kit.embedders.ollama import OllamaEmbedder
from servers.kit.embedders.openai_compatible import OpenAICompatibleEmbedder
from servers.kit.embedders.settings import EmbedderSettings, EmbeddingCacheSettings
from tests.servers.kit.embedders.support import closed_port

pytestmark = pytest.mark.anyio

MINILM = EmbedderIdentity(kind="local", model="all-MiniLM-L6-v2", dimension=384)


async def test_each_kind_builds_its_embedder_and_a_cache_wraps_it() -> None:
    assert isinstance(build_embedder(EmbedderSettings()), LocalEmbedder)
    ollama = build_embedder(EmbedderSettings(kind="ollama", model="nomic-embed-text"))
    assert isinstance(ollama, OllamaEmbedder)
    openai = build_embedder(EmbedderSettings(kind="openai", model="text-embedding-3-small"))
    assert isinstance(openai, OpenAICompatibleEmbedder)
    assert openai.url == "https://api.openai.com/v1"
    cached = build_embedder(EmbedderSettings(), EmbeddingCacheSettings())
    assert isinstance(cached, CachedEmbedder)
    off = build_embedder(EmbedderSettings(), EmbeddingCacheSettings(memory_entries=0))
    assert isinstance(off, LocalEmbedder)
    for embedder in (ollama, openai):
        await embedder.aclose()


async def test_a_set_gives_the_default_for_none_and_refuses_an_unknown_name() -> None:
    named = {"default": EmbedderSettings(), "big": EmbedderSettings(kind="ollama", model="bge-m3")}
    embedders = EmbedderSet(named, None, section="vectorstore")
    assert embedders.names == ["big", "default"]
    assert embedders.get(None) is embedders.get("default")
    with pytest.raises(EmbedderError) as caught:
        embedders.get("nope")
    assert caught.value.code == "unknown_embedder"
    assert "big, default" in str(caught.value)
    await embedders.aclose()


async def test_matching_finds_the_embedder_of_a_pinned_identity() -> None:
    named = {"default": EmbedderSettings(kind="ollama", model="bge-m3", dimension=1024), "mini": EmbedderSettings()}
    embedders = EmbedderSet(named, None)
    found = embedders.matching(MINILM)
    assert found is not None
    assert found[0] == "mini"
    assert embedders.matching(EmbedderIdentity("ollama", "bge-m3", 1024)) is not None
    assert embedders.matching(EmbedderIdentity("ollama", "bge-m3", 768)) is None
    assert embedders.matching(EmbedderIdentity("openai", "all-MiniLM-L6-v2", 384)) is None
    await embedders.aclose()


async def test_warm_all_warms_what_it_can_and_names_what_failed() -> None:
    port = closed_port()
    named = {
        "default": EmbedderSettings(),
        "remote": EmbedderSettings(kind="ollama", model="x", url=f"http://127.0.0.1:{port}"),
    }
    embedders = EmbedderSet(named, EmbeddingCacheSettings(), section="vectorstore")
    with pytest.raises(EmbedderError) as caught:
        await embedders.warm_all()
    assert caught.value.code == "embedder_unavailable"
    assert "vectorstore.embedders.remote.url" in str(caught.value)
    assert embedders.get("default").warm_state == "warm"
    assert embedders.get("remote").warm_state == "failed"
    await embedders.aclose()


def test_a_default_that_is_not_configured_is_refused() -> None:
    with pytest.raises(ValueError, match="default embedder 'main'"):
        EmbedderSet({"default": EmbedderSettings()}, None, default="main")


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"model": "bge-small"}, "ships only 'all-MiniLM-L6-v2'"),
        ({"dimension": 768}, "384 dimensions"),
        ({"url": "http://x"}, "takes no url"),
        ({"kind": "ollama", "model": "m", "api_key": "k"}, "takes no api_key"),
        ({"kind": "openai", "model": "m", "url": "ftp://x"}, "http:// or https://"),
        ({"batch_size": 0}, "greater than or equal to 1"),
        ({"kind": "cohere"}, "Input should be"),
        ({"colour": "blue"}, "Extra inputs are not permitted"),
    ],
)
def test_settings_refuse_what_cannot_work(fields: dict[str, object], why: str) -> None:
    with pytest.raises(ValidationError, match=why):
        EmbedderSettings.model_validate(fields)


def test_cache_settings_refuse_a_url_that_is_not_redis() -> None:
    with pytest.raises(ValidationError, match="redis://"):
        EmbeddingCacheSettings(redis_url="http://127.0.0.1:6379")
