"""The memory server against the official one: the same calls on both leave the same graph.

The official server (npm ``@modelcontextprotocol/server-memory``, pinned in scripts/node-tools/ and
installed by ``make tools``) runs over stdio under Node 22 with its JSON-lines file in a temporary
directory; ours runs in memory on SQLite. Both receive one script of calls; after each step
``read_graph``, ``search_nodes`` and ``open_nodes`` answer with the same entities and relations
(ours pages, so its pages are joined). Finally the official server's own file imports into ours
as it is and gives the same graph again.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters

from tests.servers.memory.support import connect, data, suite_settings
from tests.support.node_tools import NODE, PACKAGES, node_env

pytestmark = pytest.mark.anyio

OFFICIAL = PACKAGES / "server-memory" / "dist" / "index.js"

SCRIPT: list[tuple[str, dict[str, Any]]] = [
    (
        "create_entities",
        {
            "entities": [
                {"name": "Ada", "entityType": "person", "observations": ["writes compilers", "drinks espresso"]},
                {"name": "Bob", "entityType": "person", "observations": ["plays cello"]},
                {"name": "Acme", "entityType": "company", "observations": []},
            ]
        },
    ),
    ("create_entities", {"entities": [{"name": "Ada", "entityType": "robot", "observations": ["ignored"]}]}),
    (
        "create_relations",
        {
            "relations": [
                {"from": "Ada", "to": "Acme", "relationType": "works_at"},
                {"from": "Bob", "to": "Ada", "relationType": "knows"},
            ]
        },
    ),
    # Already there: both skip it. (A duplicate within one call is where they differ: the official server
    # stores it twice, ours once; tests/servers/memory/test_tools.py covers ours.)
    ("create_relations", {"relations": [{"from": "Ada", "to": "Acme", "relationType": "works_at"}]}),
    (
        "add_observations",
        {
            "observations": [
                {"entityName": "Bob", "contents": ["plays cello", "lives in Lyon"]},
                {"entityName": "Acme", "contents": ["makes anvils"]},
            ]
        },
    ),
    ("delete_observations", {"deletions": [{"entityName": "Ada", "observations": ["drinks espresso", "nothing"]}]}),
    ("delete_relations", {"relations": [{"from": "Bob", "to": "Ada", "relationType": "knows"}]}),
    ("create_entities", {"entities": [{"name": "Cyd", "entityType": "person", "observations": ["knows Ada"]}]}),
    ("create_relations", {"relations": [{"from": "Cyd", "to": "Bob", "relationType": "knows"}]}),
    ("delete_entities", {"entityNames": ["Acme", "Nobody"]}),
]
QUERIES = ["ada", "PERSON", "cello", "ly", "nothing at all"]
OPEN = [["Ada"], ["Bob", "Cyd"], ["Nobody"]]


def official_server(tmp_path: Path) -> StdioServerParameters:
    for needed in (NODE, OFFICIAL):
        if not needed.exists():
            message = f"{needed} is missing: run `make tools` (it installs the official memory server)"
            if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
                pytest.fail(message)
            pytest.skip(message)
    env = {**node_env(), "MEMORY_FILE_PATH": str(tmp_path / "official.jsonl")}
    return StdioServerParameters(command=str(NODE), args=[str(OFFICIAL)], env=env)


def holds(ours: Any, theirs: Any) -> bool:
    """``ours`` says all that ``theirs`` says: the same values, with any keys of its own beside them."""
    if isinstance(theirs, dict):
        return isinstance(ours, dict) and all(k in ours and holds(ours[k], v) for k, v in theirs.items())
    if isinstance(theirs, list):
        return isinstance(ours, list) and len(ours) == len(theirs) and all(map(holds, ours, theirs))
    return bool(ours == theirs)


def canonical(graph: dict[str, Any]) -> tuple[list[tuple[str, str, tuple[str, ...]]], list[tuple[str, str, str]]]:
    entities = sorted((e["name"], e["entityType"], tuple(e["observations"])) for e in graph["entities"])
    relations = sorted((r["from"], r["to"], r["relationType"]) for r in graph["relations"])
    return entities, relations


async def whole_graph(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """Every page of ``tool``'s answer joined (ours pages; the official server answers at once)."""
    entities: list[Any] = []
    relations: list[Any] = []
    cursor = None
    while True:
        page = data(await client.call_tool(tool, {**arguments, **({"cursor": cursor} if cursor else {})}))
        entities += page["entities"]
        relations += [r for r in page["relations"] if r not in relations]
        cursor = page.get("next_cursor")
        if not cursor:
            return {"entities": entities, "relations": relations}


async def test_the_same_calls_leave_the_same_graph_on_the_official_server_and_on_ours(tmp_path: Path) -> None:
    official = official_server(tmp_path)
    async with Client(official) as theirs, connect(suite_settings("sqlite", tmp_path / "ours")) as ours:
        for tool, arguments in SCRIPT:
            their_answer = data(await theirs.call_tool(tool, arguments))
            our_answer = data(await ours.call_tool(tool, arguments))
            assert holds(our_answer, their_answer), (tool, our_answer, their_answer)
            assert canonical(await whole_graph(ours, "read_graph", {"limit": 2})) == canonical(
                data(await theirs.call_tool("read_graph", {}))
            ), tool
        for query in QUERIES:
            assert canonical(await whole_graph(ours, "search_nodes", {"query": query, "limit": 1})) == canonical(
                data(await theirs.call_tool("search_nodes", {"query": query}))
            ), query
        for names in OPEN:
            assert canonical(data(await ours.call_tool("open_nodes", {"names": names}))) == canonical(
                data(await theirs.call_tool("open_nodes", {"names": names}))
            ), names
        final = canonical(data(await theirs.call_tool("read_graph", {})))
        refused = await theirs.call_tool(
            "add_observations", {"observations": [{"entityName": "Zed", "contents": ["x"]}]}
        )
        ours_refused = await ours.call_tool(
            "add_observations", {"observations": [{"entityName": "Zed", "contents": ["x"]}]}
        )
    assert refused.is_error and ours_refused.is_error  # both refuse an unknown entity

    memory_file = (tmp_path / "official.jsonl").read_text()
    async with connect(suite_settings("sqlite", tmp_path / "imported")) as imported:
        data(await imported.call_tool("import_graph", {"jsonl": memory_file}))
        assert canonical(await whole_graph(imported, "read_graph", {})) == final
