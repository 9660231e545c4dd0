"""Fixtures of the runtime's tests."""

from __future__ import annotations

from typing import Any

import pytest

from servers.runtime.fast_tool_call import FastToolCalls


@pytest.fixture
def fast_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tools the shared fast path answered, in order."""
    answered: list[str] = []
    original = FastToolCalls.answer

    async def spy(self: FastToolCalls, call: Any, metrics: Any, context: Any = None) -> Any:
        answered.append(call.tool.name)
        return await original(self, call, metrics, context)

    monkeypatch.setattr(FastToolCalls, "answer", spy)
    return answered
