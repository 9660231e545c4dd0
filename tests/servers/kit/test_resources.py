"""Per-backend JSON resources: every name of every answering backend listed, a description read as JSON."""

from __future__ import annotations

import json

import pytest
from mcp.server.mcpserver.exceptions import ResourceError
from pydantic import BaseModel

from servers.kit.resources import JSON_MIME, Listing, backend_resources, described_json
from servers.kit.tool_errors import CodedToolError

HELD = {"b": ["two", "one"], "a": ["solo"]}

pytestmark = pytest.mark.anyio


async def names_of(backend: str) -> list[str]:
    if backend == "down":
        raise CodedToolError("backend_unavailable", "backend 'down' cannot connect")
    return HELD[backend]


def uri_of(backend: str, name: str) -> str:
    return f"thing://{backend}/{name}"


LISTING = Listing("thing {name} on {backend}", "a thing as JSON")


class Info(BaseModel):
    name: str
    count: int


async def test_every_name_of_every_backend_is_listed_backends_in_name_order() -> None:
    listed = await backend_resources(["b", "a"], names_of, uri_of, LISTING)
    assert [str(r.uri) for r in listed] == ["thing://a/solo", "thing://b/two", "thing://b/one"]
    assert {r.mime_type for r in listed} == {JSON_MIME}
    assert listed[0].name == "a/solo" and listed[0].title == "thing solo on a"


async def test_a_backend_that_cannot_answer_lists_nothing_and_the_others_still_list() -> None:
    listed = await backend_resources(["down", "a"], names_of, uri_of, LISTING)
    assert [r.name for r in listed] == ["a/solo"]


async def test_a_description_is_read_as_its_json() -> None:
    async def describe() -> Info:
        return Info(name="ünï", count=3)

    text = await described_json(describe())
    assert json.loads(text) == {"name": "ünï", "count": 3} and "ünï" in text


async def test_a_coded_failure_becomes_a_resource_error_with_its_code() -> None:
    async def describe() -> Info:
        raise CodedToolError("unknown_index", "no index 'x'")

    with pytest.raises(ResourceError) as failed:
        await described_json(describe())
    assert str(failed.value).startswith("unknown_index:")
