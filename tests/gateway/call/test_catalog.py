"""The catalog namespaces every listing and reports what it has to leave out."""

from __future__ import annotations

from gateway.call.catalog import ALL, View, build_catalog
from gateway.settings import GatewaySettings
from gateway.upstream.instances import Listing


def tool(name: str) -> dict[str, object]:
    return {"name": name, "inputSchema": {"type": "object"}}


def test_a_name_collision_is_reported_and_does_not_stop_the_catalog() -> None:
    listings = {"a_b": Listing(tools=[tool("c")]), "a": Listing(tools=[tool("b_c"), tool("ok")])}
    catalog = build_catalog(listings, [], GatewaySettings())
    assert set(catalog.tools) == {"a_b_c", "a_ok"}
    assert catalog.tools["a_b_c"].server == "a"
    assert any("collision" in problem and "a_b_c" in problem for problem in catalog.problems)


def test_a_name_that_breaks_the_naming_rule_is_left_out_with_a_reason() -> None:
    listings = {"s": Listing(tools=[tool("has.dot"), tool("x" * 70), tool("fine")])}
    catalog = build_catalog(listings, [], GatewaySettings())
    assert set(catalog.tools) == {"s_fine"}
    assert len(catalog.problems) == 2


def test_the_same_resource_uri_from_two_servers_stays_with_the_first() -> None:
    listings = {
        "a": Listing(resources=[{"uri": "x://1", "name": "one"}]),
        "b": Listing(resources=[{"uri": "x://1", "name": "uno"}]),
    }
    catalog = build_catalog(listings, [], GatewaySettings())
    assert catalog.resource_server("x://1") == "a"
    assert catalog.problems


def test_a_server_view_lists_upstream_names_and_finds_tools_by_them() -> None:
    catalog = build_catalog({"s": Listing(tools=[tool("read")])}, [], GatewaySettings())
    assert [t["name"] for t in catalog.list_tools(View("server", "s"))] == ["read"]
    assert catalog.tool(View("server", "s"), "read") is not None
    assert catalog.tool(ALL, "read") is None
    assert catalog.tool(ALL, "s_read") is not None


def test_the_fingerprint_changes_only_when_the_lists_change() -> None:
    one = build_catalog({"s": Listing(tools=[tool("a")])}, [], GatewaySettings())
    same = build_catalog({"s": Listing(tools=[tool("a")])}, [], GatewaySettings())
    other = build_catalog({"s": Listing(tools=[tool("b")])}, [], GatewaySettings())
    assert one.fingerprint == same.fingerprint != other.fingerprint
