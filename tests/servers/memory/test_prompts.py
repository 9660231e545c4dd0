"""The prompts name the tools to call, with the caller's arguments."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.servers.memory.support import connect, suite_settings

pytestmark = pytest.mark.anyio


async def test_the_prompts_walk_through_recall_and_recording(data_dir: Path, mode: str) -> None:
    async with connect(suite_settings("sqlite", data_dir), mode) as client:
        names = {p.name for p in (await client.list_prompts()).prompts}
        summary = await client.get_prompt("summarise_known", {"subject": "Ada", "namespace": "team"})
        record = await client.get_prompt("record_decisions", {"topic": "storage"})
    assert names == {"summarise_known", "record_decisions"}
    summary_text = summary.messages[0].content.text  # type: ignore[union-attr]
    record_text = record.messages[0].content.text  # type: ignore[union-attr]
    assert "`recall`" in summary_text and "'Ada'" in summary_text and "'team'" in summary_text
    assert "`supersede_observation`" in record_text and "'storage'" in record_text
