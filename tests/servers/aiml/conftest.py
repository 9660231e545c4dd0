"""Fixtures of the aiml tests: the bundled GGUF written once per session, the client mode."""

from __future__ import annotations

from pathlib import Path

import pytest

from servers.aiml.providers.local.model_file import bundled_model
from tests.servers.aiml.support import MODES


@pytest.fixture(scope="session")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bundled_model(tmp_path_factory.mktemp("aiml-models"))


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)
