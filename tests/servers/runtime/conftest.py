"""Fixtures of the runtime's tests."""

from __future__ import annotations

import pytest

from tests.servers.runtime.stdio_support import spy_fast_calls


@pytest.fixture
def fast_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tools the shared fast path answered, in order."""
    return spy_fast_calls(monkeypatch)
