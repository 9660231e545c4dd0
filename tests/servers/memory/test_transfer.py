"""import_graph reads the official server's memory.jsonl as it is; export_graph writes lines it reads back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.servers.memory.support import connect, data, entity, relation, suite_settings, text_of

pytestmark = pytest.mark.anyio

OFFICIAL_FILE = "\n".join(
    [
        '{"type":"entity","name":"John_Smith","entityType":"person","observations":["Speaks fluent Spanish"]}',
        '{"type":"entity","name":"Anthropic","entityType":"organization","observations":[]}',
        '{"type":"relation","from":"John_Smith","to":"Anthropic","relationType":"works_at"}',
    ]
)  # the official server joins its lines with "\n" and writes no final newline


async def test_the_official_memory_file_imports_as_it_is(data_dir: Path, store_kind: str, mode: str) -> None:
    async with connect(suite_settings(store_kind, data_dir), mode) as client:
        done = data(await client.call_tool("import_graph", {"jsonl": OFFICIAL_FILE}))
        again = data(await client.call_tool("import_graph", {"jsonl": OFFICIAL_FILE}))
        graph = data(await client.call_tool("read_graph", {}))
    assert (done["entities_created"], done["observations_added"], done["relations_created"]) == (2, 1, 1)
    assert (again["entities_created"], again["entities_existing"], again["relations_created"]) == (0, 2, 0)
    assert graph["entities"] == [
        entity("Anthropic", "organization"),
        entity("John_Smith", "person", "Speaks fluent Spanish"),
    ]
    assert graph["relations"] == [relation("John_Smith", "Anthropic", "works_at")]


async def test_a_bad_line_refuses_the_import_and_nothing_is_written(data_dir: Path, store_kind: str) -> None:
    broken = OFFICIAL_FILE + '\n{"type":"relation","from":"John_Smith"}'
    dangling = OFFICIAL_FILE + '\n{"type":"relation","from":"John_Smith","to":"Nowhere","relationType":"x"}'
    async with connect(suite_settings(store_kind, data_dir)) as client:
        refused = await client.call_tool("import_graph", {"jsonl": broken})
        not_json = await client.call_tool("import_graph", {"jsonl": "{oops"})
        missing = await client.call_tool("import_graph", {"jsonl": dangling})
        graph = data(await client.call_tool("read_graph", {}))
    assert text_of(refused).startswith("invalid_jsonl: line 4:")
    assert text_of(not_json).startswith("invalid_jsonl: line 1:")
    assert text_of(missing).startswith("not_found:")
    assert graph["entities"] == []


async def test_an_export_read_back_into_another_namespace_is_the_same_graph(data_dir: Path, store_kind: str) -> None:
    names = [f"n{k:02d}" for k in range(7)]
    async with connect(suite_settings(store_kind, data_dir)) as client:
        data(await client.call_tool("create_entities", {"entities": [entity(n, "t", f"fact {n}") for n in names]}))
        # Relations pointing both ways across export pages must arrive after both of their entities.
        links = [relation(names[6], names[0], "back"), relation(names[0], names[6], "fwd")]
        data(await client.call_tool("create_relations", {"relations": links}))
        lines: list[str] = []
        page = data(await client.call_tool("export_graph", {}))
        lines += page["lines"]
        while page["next_cursor"]:
            page = data(await client.call_tool("export_graph", {"cursor": page["next_cursor"]}))
            lines += page["lines"]
        data(await client.call_tool("import_graph", {"jsonl": "\n".join(lines), "namespace": "copy"}))
        original = data(await client.call_tool("read_graph", {}))
        copy = data(await client.call_tool("read_graph", {"namespace": "copy"}))
    assert all(json.loads(line)["type"] in {"entity", "relation"} for line in lines)
    assert copy["entities"] == original["entities"] and sorted(map(str, copy["relations"])) == sorted(
        map(str, original["relations"])
    )
