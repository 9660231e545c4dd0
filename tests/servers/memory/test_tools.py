"""The official tool surface through the SDK client, on SQLite and PostgreSQL, in both protocol eras."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.servers.memory.support import connect, data, entity, relation, suite_settings, text_of

pytestmark = pytest.mark.anyio

OFFICIAL = {
    "create_entities",
    "create_relations",
    "add_observations",
    "delete_entities",
    "delete_observations",
    "delete_relations",
    "read_graph",
    "search_nodes",
    "open_nodes",
}
BEYOND_READ = {"recall", "history", "export_graph", "list_namespaces"}
BEYOND_WRITE = {"supersede_observation", "import_graph"}
READ_TOOLS = {"read_graph", "search_nodes", "open_nodes", *BEYOND_READ}


async def test_every_tool_carries_annotations_and_an_output_schema(data_dir: Path, mode: str) -> None:
    async with connect(suite_settings("sqlite", data_dir), mode) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(tools) == OFFICIAL | BEYOND_READ | BEYOND_WRITE
    for name, tool in tools.items():
        assert tool.annotations is not None and tool.output_schema is not None, name
        assert tool.annotations.read_only_hint is (name in READ_TOOLS), name
    assert tools["delete_entities"].annotations.destructive_hint is True  # type: ignore[union-attr]
    relation_item = tools["create_relations"].input_schema["$defs"]["RelationInput"]["properties"]
    assert set(relation_item) == {"from", "to", "relationType"}
    assert set(tools["add_observations"].input_schema["$defs"]["ObservationAddition"]["properties"]) == {
        "entityName",
        "contents",
    }


async def test_read_only_mode_registers_no_write_tool(data_dir: Path) -> None:
    async with connect(suite_settings("sqlite", data_dir, read_only=True)) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        refused = await client.call_tool("create_entities", {"entities": [entity("Ada")]})
    assert names == READ_TOOLS
    assert refused.is_error and text_of(refused).startswith("unknown_tool:")


async def test_create_entities_skips_a_name_already_there_and_answers_versions_and_ids(
    data_dir: Path, store_kind: str, mode: str
) -> None:
    async with connect(suite_settings(store_kind, data_dir), mode) as client:
        first = data(await client.call_tool("create_entities", {"entities": [entity("Ada", "person", "wrote notes")]}))
        again = data(
            await client.call_tool(
                "create_entities", {"entities": [entity("Ada", "robot", "other"), entity("Bob", "person")]}
            )
        )
        graph = data(await client.call_tool("read_graph", {}))
    assert first["entities"] == [entity("Ada", "person", "wrote notes")] and first["durable"] is True
    assert first["written"][0]["version"] == 1 and len(first["written"][0]["observation_ids"]) == 1
    assert [e["name"] for e in again["entities"]] == ["Bob"]
    assert graph["entities"] == [entity("Ada", "person", "wrote notes"), entity("Bob", "person")]


async def test_add_observations_to_an_unknown_entity_refuses_the_whole_call_and_changes_nothing(
    data_dir: Path, store_kind: str
) -> None:
    async with connect(suite_settings(store_kind, data_dir)) as client:
        data(await client.call_tool("create_entities", {"entities": [entity("Ada")]}))
        refused = await client.call_tool(
            "add_observations",
            {"observations": [{"entityName": "Ada", "contents": ["a"]}, {"entityName": "Nobody", "contents": ["b"]}]},
        )
        graph = data(await client.call_tool("read_graph", {}))
    assert refused.is_error and text_of(refused).startswith("not_found:") and "Nobody" in text_of(refused)
    assert graph["entities"] == [entity("Ada")]


async def test_add_observations_adds_only_new_texts_and_bumps_the_version(data_dir: Path, store_kind: str) -> None:
    async with connect(suite_settings(store_kind, data_dir)) as client:
        data(await client.call_tool("create_entities", {"entities": [entity("Ada", "person", "one")]}))
        added = data(
            await client.call_tool(
                "add_observations", {"observations": [{"entityName": "Ada", "contents": ["one", "two", "two"]}]}
            )
        )
        unchanged = data(
            await client.call_tool("add_observations", {"observations": [{"entityName": "Ada", "contents": ["one"]}]})
        )
    assert added["results"][0]["addedObservations"] == ["two"] and added["results"][0]["version"] == 2
    assert unchanged["results"][0]["addedObservations"] == [] and unchanged["results"][0]["version"] == 2


async def test_a_relation_to_an_entity_that_is_not_there_is_refused(data_dir: Path, store_kind: str) -> None:
    async with connect(suite_settings(store_kind, data_dir)) as client:
        data(await client.call_tool("create_entities", {"entities": [entity("Ada")]}))
        refused = await client.call_tool("create_relations", {"relations": [relation("Ada", "Ghost", "knows")]})
        graph = data(await client.call_tool("read_graph", {}))
    assert refused.is_error and text_of(refused).startswith("not_found:") and "Ghost" in text_of(refused)
    assert graph["relations"] == []


async def test_deletes_remove_entities_with_their_relations_observations_and_relations(
    data_dir: Path, store_kind: str, mode: str
) -> None:
    async with connect(suite_settings(store_kind, data_dir), mode) as client:
        data(
            await client.call_tool(
                "create_entities",
                {"entities": [entity("Ada", "person", "x", "y"), entity("Bob"), entity("Cy")]},
            )
        )
        made = data(
            await client.call_tool(
                "create_relations",
                {
                    "relations": [
                        relation("Ada", "Bob", "knows"),
                        relation("Bob", "Cy", "knows"),
                        relation("Ada", "Bob", "knows"),
                    ]
                },
            )
        )
        gone_obs = data(
            await client.call_tool(
                "delete_observations", {"deletions": [{"entityName": "Ada", "observations": ["x", "never"]}]}
            )
        )
        gone_rel = data(await client.call_tool("delete_relations", {"relations": [relation("Bob", "Cy", "knows")]}))
        gone = data(await client.call_tool("delete_entities", {"entityNames": ["Bob", "Nobody"]}))
        graph = data(await client.call_tool("read_graph", {}))
    assert len(made["relations"]) == 2
    assert gone_obs["observations"] == 1 and gone_obs["versions"] == {"Ada": 2} and gone_obs["success"] is True
    assert gone_rel["relations"] == 1 and gone_rel["message"] == "Relations deleted successfully"
    assert gone["entities"] == 1 and gone["relations"] == 1
    assert graph["entities"] == [entity("Ada", "person", "y"), entity("Cy")] and graph["relations"] == []


async def test_read_graph_pages_cover_every_entity_and_relation_once(data_dir: Path, store_kind: str) -> None:
    names = [f"node-{n:02d}" for n in range(23)]
    async with connect(suite_settings(store_kind, data_dir)) as client:
        data(await client.call_tool("create_entities", {"entities": [entity(n, "thing", f"about {n}") for n in names]}))
        links = [relation(names[i], names[(i + 1) % len(names)], "next") for i in range(len(names))]
        data(await client.call_tool("create_relations", {"relations": links}))
        seen_entities: list[str] = []
        seen_relations: list[tuple[str, str]] = []
        cursor = None
        pages = 0
        while True:
            page = data(await client.call_tool("read_graph", {"limit": 5, **({"cursor": cursor} if cursor else {})}))
            pages += 1
            assert len(page["entities"]) <= 5
            seen_entities += [e["name"] for e in page["entities"]]
            seen_relations += [(r["from"], r["to"]) for r in page["relations"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
    assert pages == 5 and seen_entities == names
    assert sorted(seen_relations) == sorted((r["from"], r["to"]) for r in links)


async def test_read_graph_stops_a_page_at_its_token_budget(data_dir: Path, store_kind: str) -> None:
    long_text = "a long observation about the harbour and its boats " * 20
    async with connect(suite_settings(store_kind, data_dir)) as client:
        data(
            await client.call_tool(
                "create_entities", {"entities": [entity(f"e{n}", "thing", long_text + str(n)) for n in range(10)]}
            )
        )
        page = data(await client.call_tool("read_graph", {"max_tokens": 700}))
    assert 1 <= len(page["entities"]) < 10 and page["truncated_by"] == "max_tokens" and page["next_cursor"]
    assert page["approx_tokens"] <= 700


async def test_a_cursor_of_another_query_is_refused(data_dir: Path, store_kind: str) -> None:
    async with connect(suite_settings(store_kind, data_dir)) as client:
        data(
            await client.call_tool(
                "create_entities", {"entities": [entity(f"e{n}", "thing", "boat") for n in range(4)]}
            )
        )
        page = data(await client.call_tool("search_nodes", {"query": "boat", "limit": 2}))
        refused = await client.call_tool("search_nodes", {"query": "ship", "cursor": page["next_cursor"]})
        forged = await client.call_tool("read_graph", {"cursor": "not-a-cursor"})
    assert refused.is_error and text_of(refused).startswith("invalid_cursor:")
    assert forged.is_error and text_of(forged).startswith("invalid_cursor:")


async def test_search_nodes_matches_like_the_official_server_and_ranks_by_relevance(
    data_dir: Path, store_kind: str, mode: str
) -> None:
    async with connect(suite_settings(store_kind, data_dir), mode) as client:
        data(
            await client.call_tool(
                "create_entities",
                {
                    "entities": [
                        entity("Harbour", "place", "boats boats boats in the harbour", "boats at dawn"),
                        entity("Johnson", "person", "once saw a boat"),
                        entity("Kitchen", "place", "pots and pans"),
                        entity("Boatwright", "person", "builds things"),
                    ]
                },
            )
        )
        data(await client.call_tool("create_relations", {"relations": [relation("Johnson", "Kitchen", "owns")]}))
        boats = data(await client.call_tool("search_nodes", {"query": "boat"}))
        partial = data(await client.call_tool("search_nodes", {"query": "OHNS"}))
        typed = data(await client.call_tool("search_nodes", {"query": "place"}))
        words = data(await client.call_tool("search_nodes", {"query": "dawn harbour"}))
    names = [e["name"] for e in boats["entities"]]
    assert set(names) == {"Harbour", "Johnson", "Boatwright"}
    assert names[0] == "Harbour"  # the most occurrences of the word ranks first
    assert [e["name"] for e in partial["entities"]] == ["Johnson"]  # a substring inside a word, any case
    assert partial["relations"] == [relation("Johnson", "Kitchen", "owns")]  # relations with either end matched
    assert {e["name"] for e in typed["entities"]} == {"Harbour", "Kitchen"}
    assert [e["name"] for e in words["entities"]] == ["Harbour"]  # every word, in any order


async def test_open_nodes_returns_the_named_entities_and_the_relations_at_either_end(
    data_dir: Path, store_kind: str
) -> None:
    async with connect(suite_settings(store_kind, data_dir)) as client:
        data(await client.call_tool("create_entities", {"entities": [entity("A"), entity("B"), entity("C")]}))
        data(
            await client.call_tool(
                "create_relations", {"relations": [relation("A", "B", "likes"), relation("C", "B", "likes")]}
            )
        )
        opened = data(await client.call_tool("open_nodes", {"names": ["B", "Nobody"]}))
    assert [e["name"] for e in opened["entities"]] == ["B"]
    assert sorted(r["from"] for r in opened["relations"]) == ["A", "C"]


async def test_oversized_input_is_refused_before_anything_is_written(data_dir: Path, store_kind: str) -> None:
    settings = suite_settings(store_kind, data_dir, max_observation_chars=32, max_items_per_call=3)
    async with connect(settings) as client:
        too_long = await client.call_tool("create_entities", {"entities": [entity("A", "t", "x" * 33)]})
        too_many = await client.call_tool("create_entities", {"entities": [entity(f"e{n}") for n in range(4)]})
        empty = await client.call_tool("create_entities", {"entities": [entity("A", "t", "   ")]})
        graph = data(await client.call_tool("read_graph", {}))
    assert text_of(too_long).startswith("too_long:") and text_of(too_many).startswith("too_many_items:")
    assert text_of(empty).startswith("empty_text:")
    assert graph["entities"] == []
