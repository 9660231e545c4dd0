"""supersede_observation keeps the old fact in history; an expected version guards against a concurrent change."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.servers.memory.support import connect, data, entity, suite_settings, text_of

pytestmark = pytest.mark.anyio


async def test_superseding_replaces_the_current_fact_and_history_shows_both(
    data_dir: Path, store_kind: str, mode: str
) -> None:
    async with connect(suite_settings(store_kind, data_dir), mode) as client:
        data(await client.call_tool("create_entities", {"entities": [entity("Ada", "person", "lives in Paris")]}))
        done = data(
            await client.call_tool(
                "supersede_observation",
                {"entityName": "Ada", "old_observation": "lives in Paris", "new_observation": "lives in Rome"},
            )
        )
        opened = data(await client.call_tool("open_nodes", {"names": ["Ada"]}))
        history = data(await client.call_tool("history", {"entityName": "Ada"}))
        found = data(await client.call_tool("search_nodes", {"query": "Paris"}))
    assert done["version"] == 2 and done["superseded"]["superseded_by"] == done["current"]["id"]
    assert opened["entities"][0]["observations"] == ["lives in Rome"]
    assert [(o["content"], o["superseded_by"] is None) for o in history["observations"]] == [
        ("lives in Paris", False),
        ("lives in Rome", True),
    ]
    assert history["observations"][1]["tool"] == "supersede_observation"
    assert found["entities"] == []  # a superseded fact is no longer what the entity is found by


async def test_a_stale_expected_version_is_a_conflict_and_changes_nothing(data_dir: Path, store_kind: str) -> None:
    async with connect(suite_settings(store_kind, data_dir)) as client:
        made = data(await client.call_tool("create_entities", {"entities": [entity("Ada", "person", "v1")]}))
        data(await client.call_tool("add_observations", {"observations": [{"entityName": "Ada", "contents": ["x"]}]}))
        refused = await client.call_tool(
            "supersede_observation",
            {
                "entityName": "Ada",
                "observation_id": made["written"][0]["observation_ids"][0],
                "new_observation": "v2",
                "expected_version": 1,
            },
        )
        opened = data(await client.call_tool("open_nodes", {"names": ["Ada"]}))
    assert refused.is_error and text_of(refused).startswith("version_conflict:")
    assert opened["entities"][0]["observations"] == ["v1", "x"]


async def test_superseding_what_is_not_there_is_not_found(data_dir: Path, store_kind: str) -> None:
    async with connect(suite_settings(store_kind, data_dir)) as client:
        data(await client.call_tool("create_entities", {"entities": [entity("Ada", "person", "v1")]}))
        missing = await client.call_tool(
            "supersede_observation", {"entityName": "Ada", "old_observation": "v0", "new_observation": "v2"}
        )
        both = await client.call_tool(
            "supersede_observation",
            {"entityName": "Ada", "old_observation": "v1", "observation_id": 1, "new_observation": "v2"},
        )
        nobody = await client.call_tool("history", {"entityName": "Nobody"})
    assert text_of(missing).startswith("not_found:") and text_of(both).startswith("invalid_arguments:")
    assert text_of(nobody).startswith("not_found:")
