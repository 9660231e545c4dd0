"""memory:// resources: a namespace's summary and an entity's detail, announced after writes in both eras."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.shared.exceptions import MCPError
from mcp.types import ResourceUpdatedNotification

from tests.servers.memory.support import connect, data, entity, suite_settings

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore:resources/subscribe is removed"),
    pytest.mark.filterwarnings("ignore:resources/unsubscribe is removed"),
    pytest.mark.filterwarnings("ignore:ping is removed"),
]


async def test_the_graph_and_entity_resources_read_as_json(data_dir: Path, store_kind: str) -> None:
    settings = suite_settings(store_kind, data_dir, default_namespace="notes")
    async with connect(settings) as client:
        data(await client.call_tool("create_entities", {"entities": [entity("Ada Lovelace", "person", "wrote notes")]}))
        templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
        listed = {str(r.uri) for r in (await client.list_resources()).resources}
        graph = json.loads((await client.read_resource("memory://notes/graph")).contents[0].text)  # type: ignore[union-attr]
        ada = json.loads(
            (await client.read_resource("memory://notes/entities/Ada%20Lovelace")).contents[0].text  # type: ignore[union-attr]
        )
        with pytest.raises(MCPError) as missing:
            await client.read_resource("memory://notes/entities/Nobody")
    assert templates == {"memory://{namespace}/graph", "memory://{namespace}/entities/{name}"}
    assert "memory://notes/graph" in listed
    assert graph["entities"] == 1 and graph["first_entities"][0]["name"] == "Ada Lovelace"
    assert ada["version"] == 1 and ada["observations"][0]["principal"] == "local"
    assert "not_found" in str(missing.value)


async def test_a_listening_client_hears_of_a_change_to_the_entity_it_watches(data_dir: Path) -> None:
    settings = suite_settings("sqlite", data_dir, default_namespace="notes")
    uri = "memory://notes/entities/Ada"
    async with connect(settings, "auto") as client:
        data(await client.call_tool("create_entities", {"entities": [entity("Ada")]}))
        async with client.listen(resource_subscriptions=[uri]) as events:
            data(
                await client.call_tool("add_observations", {"observations": [{"entityName": "Ada", "contents": ["x"]}]})
            )
            event = await events.__anext__()
    assert getattr(event, "uri", None) == uri


async def test_a_subscribed_session_is_told_of_a_change_to_the_graph(data_dir: Path) -> None:
    updated: list[str] = []
    arrived = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            updated.append(str(message.params.uri))
            arrived.set()

    settings = suite_settings("sqlite", data_dir, default_namespace="notes")
    async with connect(settings, "legacy", message_handler=on_message) as client:
        await client.subscribe_resource("memory://notes/graph")
        data(await client.call_tool("create_entities", {"entities": [entity("Ada")]}))
        with anyio.fail_after(5):
            await arrived.wait()
        await client.unsubscribe_resource("memory://notes/graph")
        data(await client.call_tool("create_entities", {"entities": [entity("Bob")]}))
        await client.send_ping()  # a round trip after the last write: anything sent has arrived
    assert updated == ["memory://notes/graph"]
