"""The aiml section refuses what cannot work when the configuration loads."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from servers.aiml.settings import AimlSettings, ProviderSettings


def test_an_alias_naming_no_configured_provider_is_refused() -> None:
    with pytest.raises(ValidationError, match="names no provider"):
        AimlSettings(aliases={"default": ("ollama/llama3",)})


def test_an_alias_target_without_a_model_is_refused() -> None:
    with pytest.raises(ValidationError, match="is not <provider>/<model>"):
        AimlSettings(aliases={"default": ("local",)})


def test_an_openai_provider_needs_its_url() -> None:
    with pytest.raises(ValidationError, match="needs url"):
        ProviderSettings(kind="openai")


def test_the_default_max_tokens_may_not_exceed_the_per_call_cap() -> None:
    with pytest.raises(ValidationError, match="default_max_tokens"):
        AimlSettings(default_max_tokens=2000, max_tokens_per_call=1000)


def test_the_defaults_serve_every_alias_from_the_local_provider_and_leave_the_media_ones_empty() -> None:
    settings = AimlSettings()
    assert set(settings.aliases) == {"default", "fast", "embed", "vision", "transcribe"}
    assert all(target.startswith("local/") for targets in settings.aliases.values() for target in targets)
    assert settings.aliases["vision"] == () and settings.aliases["transcribe"] == ()


def test_only_a_media_alias_may_be_empty() -> None:
    assert AimlSettings(aliases={"default": ("local/gemma3-270m",), "vision": ()}).aliases["vision"] == ()
    with pytest.raises(ValidationError, match="lists no model"):
        AimlSettings(aliases={"default": ()})


def test_audio_models_are_for_openai_providers_and_vision_models_not_for_local() -> None:
    with pytest.raises(ValidationError, match="audio_models is for openai"):
        ProviderSettings(kind="ollama", audio_models=("whisper*",))
    with pytest.raises(ValidationError, match="vision_models is for openai and ollama"):
        ProviderSettings(kind="local", vision_models=("*",))
