"""Namespaces with access per principal: who may read and write, and where the principal comes from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from servers.memory.access import PRINCIPAL_META
from tests.servers.memory.support import connect, data, entity, suite_settings, text_of

pytestmark = pytest.mark.anyio

NAMESPACES: dict[str, Any] = {
    "team": {"kind": "project", "read": ["*"], "write": ["alice"]},
    "alice-notes": {"kind": "user", "read": ["alice"], "write": ["alice"]},
}


def as_principal(principal: str) -> dict[str, Any]:
    return {PRINCIPAL_META: principal}


async def test_a_principal_writes_only_where_the_config_allows_it(data_dir: Path, store_kind: str) -> None:
    settings = suite_settings(
        store_kind, data_dir, namespaces=NAMESPACES, default_namespace="team", default_principal="bob"
    )
    async with connect(settings) as client:
        refused = await client.call_tool("create_entities", {"entities": [entity("Plan")], "namespace": "team"})
        unreadable = await client.call_tool("read_graph", {"namespace": "alice-notes"})
        unknown = await client.call_tool("read_graph", {"namespace": "elsewhere"})
        readable = data(await client.call_tool("read_graph", {"namespace": "team"}))
        listed = data(await client.call_tool("list_namespaces", {}))
    assert refused.is_error and text_of(refused).startswith("forbidden:") and "nothing was written" in text_of(refused)
    assert text_of(unreadable).startswith("forbidden:")
    assert text_of(unknown).startswith("unknown_namespace:")
    assert readable["entities"] == []
    assert listed["principal"] == "bob"
    assert [(n["namespace"], n["can_write"], n["kind"]) for n in listed["namespaces"]] == [("team", False, "project")]


async def test_the_forwarded_principal_counts_only_when_the_operator_trusts_it(data_dir: Path) -> None:
    base: dict[str, Any] = {"namespaces": NAMESPACES, "default_namespace": "team", "default_principal": "bob"}
    write = {"entities": [entity("Plan", "doc", "ship it")], "namespace": "team"}
    async with connect(suite_settings("sqlite", data_dir, **base)) as client:
        untrusted = await client.call_tool("create_entities", write, meta=as_principal("alice"))
    async with connect(suite_settings("sqlite", data_dir, trust_forwarded_principal=True, **base)) as client:
        trusted = data(await client.call_tool("create_entities", write, meta=as_principal("alice")))
        history = data(await client.call_tool("history", {"entityName": "Plan", "namespace": "team"}))
    assert untrusted.is_error and text_of(untrusted).startswith("forbidden:")
    assert trusted["entities"][0]["name"] == "Plan"
    assert history["observations"][0]["principal"] == "alice"
    assert history["observations"][0]["tool"] == "create_entities"


async def test_namespaces_keep_their_graphs_apart(data_dir: Path, store_kind: str) -> None:
    async with connect(suite_settings(store_kind, data_dir)) as client:
        data(await client.call_tool("create_entities", {"entities": [entity("Ada")], "namespace": "proj-a"}))
        data(await client.call_tool("create_entities", {"entities": [entity("Ada", "robot")], "namespace": "proj-b"}))
        a = data(await client.call_tool("open_nodes", {"names": ["Ada"], "namespace": "proj-a"}))
        b = data(await client.call_tool("search_nodes", {"query": "robot", "namespace": "proj-b"}))
        none = data(await client.call_tool("search_nodes", {"query": "robot", "namespace": "proj-a"}))
        bad = await client.call_tool("read_graph", {"namespace": "Not A Name"})
    assert a["entities"] == [entity("Ada")] and b["entities"] == [entity("Ada", "robot")]
    assert none["entities"] == []
    assert bad.is_error and text_of(bad).startswith("invalid_arguments:")


async def test_a_read_only_server_refuses_no_read_but_lists_no_namespace_as_writable(data_dir: Path) -> None:
    async with connect(suite_settings("sqlite", data_dir, read_only=True)) as client:
        listed = data(await client.call_tool("list_namespaces", {}))
    assert listed["namespaces"] and not any(n["can_write"] for n in listed["namespaces"])
