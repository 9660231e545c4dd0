"""A tool's return value reaches the wire exactly as the SDK's conversion would put it, for every return shape.

The one-pass conversion of a declared model (:func:`servers.runtime.tool_result.declared_model_result`) and
the SDK's own conversion for everything else are both checked byte for byte against the SDK's transport,
with the parity harness of ``test_fastpath``.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, TextContent
from pydantic import BaseModel, ConfigDict, Field, field_validator

from mesh.config import Settings
from servers.runtime import tool_result
from servers.runtime.definition import ServerDefinition
from suite.settings import SuiteSettings
from tests.servers.runtime.test_fastpath import both, call_body, headers_for, parity

pytestmark = pytest.mark.anyio


class Aliased(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    row_count: int = Field(alias="rowCount")
    ratio: float
    tags: list[str]
    nested: dict[str, Any]


class Wider(Aliased):
    extra_field: str = "kept by the SDK's dump of the instance"


class Revalidated(BaseModel):
    model_config = ConfigDict(revalidate_instances="always")

    name: str

    @field_validator("name")
    @classmethod
    def shout(cls, value: str) -> str:
        return value.upper()


class Unserializable(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    value: Any

    def model_dump(self, **_kwargs: Any) -> dict[str, Any]:
        raise ValueError("internal detail of the dump that must stay on the server")


class Refusing(BaseModel):
    value: int

    def model_dump(self, **_kwargs: Any) -> dict[str, Any]:
        raise ToolError("the tool's own refusal")


class Protocol(BaseModel):
    value: int

    def model_dump(self, **_kwargs: Any) -> dict[str, Any]:
        raise MCPError(code=INVALID_PARAMS, message="a protocol error from the dump")


def shapes_builder(_settings: Settings) -> MCPServer[Any]:
    server: MCPServer[Any] = MCPServer("shapes", version="2.0.0")

    @server.tool()
    def aliased() -> Aliased:
        return Aliased(rowCount=3, ratio=math.inf, tags=["a", "\u00e9"], nested={"none": None, "list": [1, None]})

    @server.tool()
    def subclass() -> Aliased:
        return Wider(rowCount=1, ratio=0.5, tags=[], nested={})

    @server.tool()
    def as_dict() -> Aliased:
        return {"rowCount": 2, "ratio": 1.0, "tags": ["x"], "nested": {}}  # type: ignore[return-value]

    @server.tool()
    def wrong_shape() -> Aliased:
        return {"rowCount": "many"}  # type: ignore[return-value]

    @server.tool()
    def revalidated() -> Revalidated:
        return Revalidated.model_construct(name="quiet")

    @server.tool()
    def wrapped() -> int:
        return 41

    @server.tool()
    def content_block() -> TextContent:
        return TextContent(type="text", text="a block as its own content")

    @server.tool()
    def dump_crashes() -> Unserializable:
        return Unserializable(value=1)

    @server.tool()
    def dump_refuses() -> Refusing:
        return Refusing(value=1)

    @server.tool()
    def dump_protocol_error() -> Protocol:
        return Protocol(value=1)

    return server


SHAPES = ServerDefinition(name="shapes", build=shapes_builder)


@pytest.mark.parametrize(
    "tool",
    ["aliased", "subclass", "as_dict", "wrong_shape", "revalidated", "wrapped", "content_block"],
)
async def test_every_return_shape_reaches_the_wire_as_the_sdk_sends_it(tool: str) -> None:
    async with both(SHAPES, SuiteSettings()) as pair:
        answer = await parity(pair, call_body(tool, {}), headers_for(tool))
        assert pair[0].sdk_requests == 0  # answered on the fast path
    assert answer.status == 200 and "result" in answer.json()


async def test_a_declared_model_keeps_aliases_nulls_and_non_finite_floats_as_the_sdk_writes_them() -> None:
    async with both(SHAPES, SuiteSettings()) as pair:
        result = (await parity(pair, call_body("aliased", {}), headers_for("aliased"))).json()["result"]
    assert result["structuredContent"] == {
        "rowCount": 3,
        "ratio": None,
        "tags": ["a", "\u00e9"],
        "nested": {"none": None, "list": [1, None]},
    }
    assert '"rowCount": 3,\n  "ratio": null' in result["content"][0]["text"]  # the SDK's indented to_json


@pytest.mark.parametrize("tool", ["subclass", "revalidated", "wrapped", "content_block", "as_dict"])
def test_only_an_instance_of_exactly_the_declared_plain_model_takes_the_one_pass_conversion(tool: str) -> None:
    server = shapes_builder(SuiteSettings())
    registered = server._tool_manager.get_tool(tool)
    assert registered is not None
    raw = registered.fn()
    assert tool_result.declared_model_result(registered, raw) is None
    plain = server._tool_manager.get_tool("aliased")
    assert plain is not None and tool_result.declared_model_result(plain, plain.fn()) is not None


@pytest.mark.parametrize(
    ("tool", "text"),
    [
        ("dump_crashes", "Error executing tool dump_crashes"),
        ("dump_refuses", "Error executing tool dump_refuses: the tool's own refusal"),
    ],
)
async def test_a_result_that_fails_conversion_is_the_sdks_error_result_and_keeps_internals_private(
    tool: str, text: str
) -> None:
    async with both(SHAPES, SuiteSettings()) as pair:
        answer = await parity(pair, call_body(tool, {}), headers_for(tool))
    result = answer.json()["result"]
    assert result["isError"] is True and result["content"][0]["text"] == text
    assert b"internal detail" not in answer.body


async def test_a_protocol_error_raised_while_converting_is_the_sdks_json_rpc_error() -> None:
    async with both(SHAPES, SuiteSettings()) as pair:
        answer = await parity(pair, call_body("dump_protocol_error", {}), headers_for("dump_protocol_error"))
    assert answer.json()["error"]["code"] == INVALID_PARAMS


async def test_a_server_that_overrides_call_tool_keeps_every_call_on_the_sdk_path() -> None:
    calls: list[str] = []

    class Audited(MCPServer[Any]):
        async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
            calls.append(name)
            return await super().call_tool(name, arguments, context)

    def build(settings: Settings) -> MCPServer[Any]:
        server = Audited("shapes", version="2.0.0")
        server.add_tool(shapes_builder(settings)._tool_manager.get_tool("aliased").fn)  # type: ignore[union-attr]
        return server

    async with both(ServerDefinition(name="shapes", build=build), SuiteSettings()) as pair:
        await parity(pair, call_body("aliased", {}), headers_for("aliased"))
        assert pair[0].sdk_requests == 1
    assert calls == ["aliased", "aliased"]
