"""Readiness says what state the local model is in."""

from __future__ import annotations

from pathlib import Path

import pytest

from servers.aiml.server import build_server, readiness
from tests.servers.aiml.support import service_for, suite_settings

pytestmark = pytest.mark.anyio


async def test_readiness_reports_the_local_model_cold_until_it_is_warm(tmp_path: Path, model_path: Path) -> None:
    settings = suite_settings(tmp_path, model_path, providers={"down": {"kind": "ollama", "url": "http://127.0.0.1:9"}})
    service = service_for(settings)
    build_server(settings, service)
    before = await readiness(settings)
    await service.warm_up()
    after = await readiness(settings)
    assert before.ready is False and "cold" in before.checks["provider local"]
    assert after.ready is True and after.checks["provider local"] == "ok (local, warm)"
    assert after.checks["provider down"].startswith("not ready (ollama")
    assert after.checks["alias default"] == "servable"


async def test_a_missing_model_file_is_reported_as_failed_and_not_ready(tmp_path: Path) -> None:
    settings = suite_settings(tmp_path, tmp_path / "missing.gguf")
    service = service_for(settings)
    build_server(settings, service)
    await service.warm_up()
    state = await readiness(settings)
    assert state.ready is False and "failed" in state.checks["provider local"]
