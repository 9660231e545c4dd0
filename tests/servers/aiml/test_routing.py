"""From a model name to the ordered candidates: aliases, explicit pairs, budget fallback, allow-list."""

from __future__ import annotations

import pytest

from servers.aiml.errors import AimlError
from servers.aiml.routing import Candidate, candidates
from servers.aiml.settings import AimlSettings, ProviderSettings


def settings(**kwargs: object) -> AimlSettings:
    providers = {
        "local": ProviderSettings(kind="local"),
        "big": ProviderSettings(kind="openai", url="http://127.0.0.1:9/v1"),
    }
    aliases = {"default": ("big/large", "local/gemma3-270m"), "fast": ("local/gemma3-270m",)}
    return AimlSettings.model_validate({"providers": providers, "aliases": aliases, **kwargs})


def test_an_alias_resolves_to_its_pairs_in_order() -> None:
    assert candidates(settings(), None, "default", budget_low=False) == [
        Candidate("big", "large"),
        Candidate("local", "gemma3-270m"),
    ]


def test_a_low_budget_puts_the_fallback_alias_first() -> None:
    found = candidates(settings(), "default", "default", budget_low=True)
    assert found == [Candidate("local", "gemma3-270m"), Candidate("big", "large")]


def test_an_explicit_pair_of_a_configured_provider_is_one_candidate() -> None:
    assert candidates(settings(), "big/other", "default", budget_low=False) == [Candidate("big", "other")]


def test_an_unknown_name_is_refused_with_the_aliases_it_could_be() -> None:
    with pytest.raises(AimlError) as caught:
        candidates(settings(), "gpt-9", "default", budget_low=False)
    assert caught.value.code == "unknown_model" and "default" in caught.value.detail


def test_the_allow_list_removes_candidates_and_refuses_when_none_is_left() -> None:
    narrowed = settings(allowed_models=("local/*",))
    assert candidates(narrowed, "default", "default", budget_low=False) == [Candidate("local", "gemma3-270m")]
    with pytest.raises(AimlError) as caught:
        candidates(narrowed, "big/large", "default", budget_low=False)
    assert caught.value.code == "model_not_allowed"
