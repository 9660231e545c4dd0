"""A client connected to the gateway sees every available server's tools, prompts and resources."""

from __future__ import annotations

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from gateway.call.catalog import ALL, View
from gateway.door.mcp_endpoint import Endpoint
from tests.support.gateway_fixtures import demo_gateway

pytestmark = pytest.mark.anyio

MODES = ["auto", "legacy"]


@pytest.mark.parametrize("mode", MODES)
async def test_tools_are_listed_with_the_server_prefix_and_the_gateway_tools(mode: str) -> None:
    async with demo_gateway() as (gateway, _, _), Client(Endpoint(gateway, ALL).server, mode=mode) as client:
        names = [tool.name for tool in (await client.list_tools()).tools]
    assert names[:2] == ["gateway_status", "gateway_capabilities"]
    assert set(names[2:]) == {"demo_echo", "demo_slow", "demo_destroy", "demo_fail", "demo_touch", "demo_grow"}


@pytest.mark.parametrize("mode", MODES)
async def test_a_call_reaches_the_upstream_and_keeps_its_structured_content(mode: str) -> None:
    async with demo_gateway() as (gateway, replicas, _), Client(Endpoint(gateway, ALL).server, mode=mode) as client:
        result = await client.call_tool("demo_echo", {"text": "héllo"})
    assert not result.is_error
    assert result.structured_content == {"text": "héllo", "replica": "a"}
    assert replicas[0].calls == {"echo": 1}


async def test_a_tool_error_of_the_upstream_reaches_the_client_as_a_tool_error() -> None:
    async with demo_gateway() as (gateway, _, _), Client(Endpoint(gateway, ALL).server) as client:
        result = await client.call_tool("demo_fail", {})
    assert result.is_error
    assert "always fails" in result.content[0].text  # type: ignore[union-attr]


async def test_an_unknown_tool_is_a_protocol_error_with_invalid_params() -> None:
    async with demo_gateway() as (gateway, _, _), Client(Endpoint(gateway, ALL).server) as client:
        with pytest.raises(MCPError) as caught:
            await client.call_tool("demo_nothing", {})
    assert caught.value.code == -32602


async def test_invalid_arguments_are_refused_by_the_upstream_and_change_nothing() -> None:
    async with demo_gateway() as (gateway, replicas, _), Client(Endpoint(gateway, ALL).server) as client:
        result = await client.call_tool("demo_echo", {"text": 42, "extra": True})
    assert result.is_error
    assert replicas[0].calls == {}


async def test_resources_keep_their_uris_and_templates_route_to_their_server() -> None:
    async with demo_gateway() as (gateway, _, _), Client(Endpoint(gateway, ALL).server) as client:
        resources = await client.list_resources()
        templates = await client.list_resource_templates()
        exact = await client.read_resource("demo://greeting")
        templated = await client.read_resource("demo://items/42")
    assert [str(r.uri) for r in resources.resources] == ["demo://greeting"]
    assert [t.uri_template for t in templates.resource_templates] == ["demo://items/{item}"]
    assert exact.contents[0].text == "hello from a"  # type: ignore[union-attr]
    assert templated.contents[0].text == "item 42 from a"  # type: ignore[union-attr]


async def test_an_unknown_resource_uri_is_refused() -> None:
    async with demo_gateway() as (gateway, _, _), Client(Endpoint(gateway, ALL).server) as client:
        with pytest.raises(MCPError) as caught:
            await client.read_resource("nowhere://x")
    assert caught.value.code == -32602


async def test_prompts_are_prefixed_and_forwarded_under_their_own_name() -> None:
    async with demo_gateway() as (gateway, _, _), Client(Endpoint(gateway, ALL).server) as client:
        prompts = [p.name for p in (await client.list_prompts()).prompts]
        got = await client.get_prompt("demo_summarize", {"topic": "tides"})
    assert prompts == ["demo_summarize"]
    assert got.messages[0].content.text == "Summarize tides."  # type: ignore[union-attr]


async def test_the_server_endpoint_uses_the_upstream_names_without_prefix() -> None:
    async with demo_gateway() as (gateway, _, _), Client(Endpoint(gateway, View("server", "demo")).server) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        result = await client.call_tool("echo", {"text": "x"})
    assert names == {"echo", "slow", "destroy", "fail", "touch", "grow"}
    assert result.structured_content == {"text": "x", "replica": "a"}


async def test_progress_notifications_pass_through_over_a_session() -> None:
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    async with (
        demo_gateway() as (gateway, _, _),
        Client(Endpoint(gateway, ALL).server, mode="legacy") as client,
    ):
        result = await client.call_tool("demo_slow", {"steps": 3}, progress_callback=on_progress)
    assert result.content[0].text == "done by a"  # type: ignore[union-attr]
    assert seen == [(1.0, 3.0, "step 1"), (2.0, 3.0, "step 2"), (3.0, 3.0, "step 3")]


async def test_the_gateway_serverinfo_replaces_the_upstreams() -> None:
    async with demo_gateway() as (gateway, _, _), Client(Endpoint(gateway, ALL).server, mode="legacy") as client:
        assert client.server_info is not None
        assert client.server_info.name == "mcp-suite-gateway"
        result = await client.call_tool("demo_echo", {"text": "x"})
    assert (result.meta or {}).get("io.modelcontextprotocol/serverInfo", {"name": "mcp-suite-gateway"})[
        "name"
    ] == "mcp-suite-gateway"


async def test_gateway_status_reports_instances_and_breakers() -> None:
    async with demo_gateway(replicas=2) as (gateway, _, _), Client(Endpoint(gateway, ALL).server) as client:
        result = await client.call_tool("gateway_status", {})
    status = result.structured_content
    assert status is not None
    (demo,) = status["servers"]
    assert demo["server"] == "demo"
    assert [i["breaker"]["state"] for i in demo["instances"]] == ["closed", "closed"]
    assert all(i["healthy"] for i in demo["instances"])


async def test_pagination_walks_every_tool_across_pages() -> None:
    from gateway.call import catalog as catalog_module

    async with demo_gateway() as (gateway, _, _):
        every = catalog_module.Catalog.list_tools(gateway.catalog, ALL)
        collected: list[str] = []
        cursor = None
        while True:
            page, cursor = catalog_module.paginate(every, cursor, page_size=4)
            collected += [t["name"] for t in page]
            if cursor is None:
                break
    assert collected == [t["name"] for t in every]
    with pytest.raises(ValueError, match="invalid cursor"):
        catalog_module.paginate(every, "not-a-cursor!!")


@pytest.mark.parametrize("mode", MODES)
async def test_the_gateway_announces_list_changes_in_both_eras(mode: str) -> None:
    async with demo_gateway() as (gateway, _, _), Client(Endpoint(gateway, ALL).server, mode=mode) as client:
        capabilities = client.server_capabilities
    assert capabilities.tools is not None and capabilities.tools.list_changed
    assert capabilities.prompts is not None and capabilities.prompts.list_changed
    assert capabilities.resources is not None and capabilities.resources.list_changed
