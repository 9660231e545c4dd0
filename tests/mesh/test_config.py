"""The ground floor loads owned sections generically: typed, from the file and the environment, refused clearly."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field

from mesh.config import ConfigError, ServerSettings, Settings, load_settings, section, settings_model


class ToySettings(ServerSettings):
    port: int = Field(default=8600, ge=0, le=65535)
    names: tuple[str, ...] = ()


SECTIONS = {"toy": ToySettings}


def test_a_section_is_typed_and_defaults_to_its_models_defaults() -> None:
    settings = load_settings(sections=SECTIONS)
    toy = section(settings, "toy", ToySettings)
    assert isinstance(toy, ToySettings)
    assert (toy.port, toy.names) == (8600, ())


def test_a_section_comes_from_the_file_and_the_environment_overrides_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "suite.yaml"
    config.write_text("toy:\n  port: 9100\n  names: [a, b]\n")
    monkeypatch.setenv("MCP_SUITE_TOY__PORT", "9200")
    toy = section(load_settings(config, sections=SECTIONS), "toy", ToySettings)
    assert (toy.port, toy.names) == (9200, ("a", "b"))


def test_an_invalid_section_value_is_refused_with_its_key_and_value(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("toy:\n  port: 99999\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(config, sections=SECTIONS)
    assert "toy.port = 99999" in str(caught.value)


def test_a_section_this_process_does_not_know_is_an_unknown_key(tmp_path: Path) -> None:
    config = tmp_path / "other.yaml"
    config.write_text("toy:\n  port: 1\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    assert "toy: unknown key" in str(caught.value)


def test_settings_loaded_without_a_section_give_its_defaults() -> None:
    assert section(Settings(), "toy", ToySettings) == ToySettings()


def test_a_section_may_not_shadow_a_common_key() -> None:
    with pytest.raises(ValueError, match="common settings keys"):
        settings_model({"registry": ToySettings})


def test_a_section_read_as_another_model_is_a_type_error() -> None:
    class OtherSettings(ServerSettings):
        pass

    with pytest.raises(TypeError, match="not a OtherSettings"):
        section(load_settings(sections=SECTIONS), "toy", OtherSettings)
