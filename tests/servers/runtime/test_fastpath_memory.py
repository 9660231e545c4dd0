"""The memory server's tools answer over HTTP on the fast path as the SDK does, and still announce changes.

Each app gets its own SQLite file and the same calls in the same order, so the ids and versions they
write agree; the times they stamp differ, so those are masked before comparing.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from mcp.server.subscriptions import ResourceUpdated, ServerEvent

from servers.memory.server import DEFINITION
from servers.runtime.sdk_seams import bus_of
from tests.servers.memory.support import entity, relation, suite_settings
from tests.servers.runtime.test_fastpath import Answer, call_body, headers_for, post, results_alike, serving

pytestmark = pytest.mark.anyio

NAMESPACE = "fastpath"
PRINCIPAL = {"x-mcp-suite-principal": "alice"}
CALLS: list[tuple[str, dict[str, Any]]] = [
    ("create_entities", {"entities": [entity("ada", "person", "wrote notes"), entity("engine", "machine")]}),
    ("create_relations", {"relations": [relation("ada", "engine", "programmed")]}),
    ("add_observations", {"observations": [{"entityName": "ada", "contents": ["liked poetry"]}]}),
    ("add_observations", {"observations": [{"entityName": "nobody", "contents": ["x"]}]}),  # refused
    ("add_observations", {"observations": "not a list"}),  # invalid arguments
    ("search_nodes", {"query": "poetry"}),
    ("open_nodes", {"names": ["ada", "engine"]}),
    ("read_graph", {}),
    ("recall", {"query": "ada notes"}),
    ("supersede_observation", {"entityName": "ada", "old_observation": "liked poetry", "new_observation": "loved"}),
    ("history", {"entityName": "ada"}),
    ("export_graph", {}),
    ("list_namespaces", {}),
    ("delete_observations", {"deletions": [{"entityName": "ada", "observations": ["wrote notes"]}]}),
    ("delete_relations", {"relations": [relation("ada", "engine", "programmed")]}),
    ("delete_entities", {"entityNames": ["engine"]}),
    ("read_graph", {}),
]


def masked(answer: Answer) -> tuple[int, list[tuple[str, str]], str]:
    """The answer with the instants it stamps (seconds or ISO 8601) replaced."""
    body = answer.body.decode()
    body = re.sub(r'(\\?"(?:created_at|updated_at|superseded_at|at|latency_ms)\\?": ?)[0-9.e+-]+', r"\1T", body)
    body = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?", "T", body)
    return answer.status, [(k, v) for k, v in answer.headers if k != "content-length"], body


async def test_every_memory_tool_takes_the_fast_path_with_the_sdks_answers(tmp_path: Path) -> None:
    def settings(name: str) -> Any:
        return suite_settings("sqlite", tmp_path / name, default_namespace=NAMESPACE, trust_forwarded_principal=True)

    async with (
        serving(DEFINITION, settings("fast"), fast_path=True) as fast,
        serving(DEFINITION, settings("sdk"), fast_path=False) as sdk,
    ):
        results = await results_alike(fast, sdk, CALLS, PRINCIPAL, masked)
    by_tool = dict(zip((t for t, _ in CALLS), results, strict=True))
    assert results[3]["isError"] is True and results[3]["content"][0]["text"].startswith("not_found: ")
    assert results[4]["isError"] is True
    history = by_tool["history"]["structuredContent"]
    assert {o["principal"] for o in history["observations"]} == {"alice"}
    assert [e["name"] for e in results[-1]["structuredContent"]["entities"]] == ["ada"]


async def test_a_write_on_the_fast_path_announces_the_graph_and_each_entity_it_changed(tmp_path: Path) -> None:
    async with serving(
        DEFINITION, suite_settings("sqlite", tmp_path, default_namespace=NAMESPACE), fast_path=True
    ) as fast:
        heard: list[str] = []

        def listen(event: ServerEvent) -> None:
            if isinstance(event, ResourceUpdated):
                heard.append(event.uri)

        unsubscribe = bus_of(fast.server).subscribe(listen)
        try:
            create = call_body("create_entities", {"entities": [entity("ada"), entity("bob")]})
            answer = await post(fast, create, headers_for("create_entities"))
            refused = call_body("add_observations", {"observations": [{"entityName": "carol", "contents": ["x"]}]})
            await post(fast, refused, headers_for("add_observations"))
        finally:
            unsubscribe()
        assert fast.sdk_requests == 0
    assert answer.json()["result"]["isError"] is False
    assert heard == [
        f"memory://{NAMESPACE}/graph",
        f"memory://{NAMESPACE}/entities/ada",
        f"memory://{NAMESPACE}/entities/bob",
    ]
