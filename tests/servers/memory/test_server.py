"""The server's definition: readiness reports the store, and an unreachable one is not ready (without its address)."""

from __future__ import annotations

from pathlib import Path

import pytest

from servers.memory.server import DEFINITION
from suite.settings import SuiteSettings
from tests.servers.memory.support import suite_settings

pytestmark = pytest.mark.anyio


async def test_readiness_is_ready_when_the_store_answers(data_dir: Path, store_kind: str) -> None:
    readiness = await DEFINITION.readiness(suite_settings(store_kind, data_dir))
    assert readiness.ready
    assert readiness.checks[f"store {store_kind}"].startswith("ok (")


async def test_an_unreachable_postgresql_is_not_ready_and_its_address_is_not_shown(data_dir: Path) -> None:
    dsn = "postgresql://someone:hunter2@127.0.0.1:1/nowhere"
    settings = SuiteSettings(
        data_dir=data_dir, memory={"store": "postgres", "postgres": {"dsn": dsn, "connect_timeout_seconds": 2}}
    )
    readiness = await DEFINITION.readiness(settings)
    assert not readiness.ready
    assert "hunter2" not in str(readiness.checks) and "unavailable" in readiness.checks["store postgres"]


def test_the_definition_names_the_server_and_its_port(data_dir: Path) -> None:
    assert DEFINITION.name == "memory"
    assert DEFINITION.port_of(suite_settings("sqlite", data_dir)) == 8504
