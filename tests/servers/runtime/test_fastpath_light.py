"""Over HTTP, a tool with a light ``Context`` is answered on the fast path exactly as the SDK's endpoint answers it.

Each parity test sends the same raw request to an app with the fast path and one without, and compares
status, headers and body bytes (the helpers are the HTTP fast path's own, tests/servers/runtime/test_fastpath.py).
A log line the request opted into commits both answers to ``text/event-stream``; a call asking for progress,
or one from a client with the capabilities the tool names, stays with the SDK.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ClientCapabilities
from pydantic import BaseModel

from mesh.config import Settings
from servers.filesystem.server import DEFINITION as FILESYSTEM
from servers.runtime.definition import ServerDefinition
from servers.runtime.light_context import session_needed_when
from suite.settings import SuiteSettings
from tests.servers.runtime.test_fastpath import Answer, both, call_body, headers_for, parity, post

pytestmark = pytest.mark.anyio

PRINCIPAL_HEADER = "x-mcp-suite-principal"


class Caller(BaseModel):
    request: str
    principal: str | None
    store: str
    elicits: bool


def needs_sampling(capabilities: ClientCapabilities | None) -> bool:
    return capabilities is not None and capabilities.sampling is not None


def never(_capabilities: ClientCapabilities | None) -> bool:
    return False


def light_builder(_settings: Settings) -> MCPServer[Any]:
    @asynccontextmanager
    async def lifespan(_server: MCPServer[Any]) -> AsyncIterator[dict[str, str]]:
        yield {"store": "warm"}

    server: MCPServer[Any] = MCPServer("sample", version="1.2.3", lifespan=lifespan)

    @server.tool()
    @session_needed_when(needs_sampling)
    async def whoami(ctx: Context[Any, Any]) -> Caller:
        """Reads what the SDK's endpoint gives a Context: the request id, headers, lifespan state, capabilities."""
        await ctx.info("looking up the caller")
        await ctx.debug({"detail": "caf\u00e9"})
        await ctx.report_progress(1, 2, "half way")
        headers = ctx.headers or {}
        capabilities = ctx.session.client_params.capabilities if ctx.session.client_params else None
        return Caller(
            request=ctx.request_id,
            principal=headers.get(PRINCIPAL_HEADER),
            store=ctx.request_context.lifespan_context["store"],
            elicits=bool(capabilities and capabilities.elicitation is not None),
        )

    @server.tool()
    @session_needed_when(never)
    async def light_refuse(ctx: Context[Any, Any]) -> str:
        await ctx.warning("about to refuse")
        raise ToolError("refused: call whoami instead")

    @server.tool()
    @session_needed_when(never)
    async def light_asks(ctx: Context[Any, Any]) -> str:
        class Confirm(BaseModel):
            ok: bool

        answer = await ctx.elicit("sure?", Confirm)
        return str(answer.action)

    return server


LIGHT = ServerDefinition(name="sample", build=light_builder)


def sse_events(answer: Answer) -> list[Any]:
    return [
        json.loads(line.removeprefix(b"data: ")) for line in answer.body.split(b"\r\n") if line.startswith(b"data: ")
    ]


async def test_a_light_tool_with_no_log_opt_in_is_answered_on_the_fast_path_as_json_like_the_sdk() -> None:
    async with both(LIGHT, SuiteSettings()) as pair:
        headers = headers_for("whoami", **{PRINCIPAL_HEADER: "alice"})
        answer = await parity(pair, call_body("whoami", {}, request_id=9), headers)
        assert pair[0].sdk_requests == 0 and pair[1].sdk_requests == 1
    assert dict(answer.headers)["content-type"] == "application/json"
    assert answer.json()["result"]["structuredContent"] == {
        "request": "9",
        "principal": "alice",
        "store": "warm",
        "elicits": False,
    }


async def test_a_log_line_the_request_opted_into_commits_both_answers_to_the_same_event_stream() -> None:
    body = call_body("whoami", {}, **{"io.modelcontextprotocol/logLevel": "debug"})
    async with both(LIGHT, SuiteSettings()) as pair:
        answer = await parity(pair, body, headers_for("whoami"))
        assert pair[0].sdk_requests == 0
    assert dict(answer.headers)["content-type"] == "text/event-stream"
    first, second, final = sse_events(answer)
    assert first["method"] == second["method"] == "notifications/message"
    assert (first["params"]["level"], second["params"]["data"]) == ("info", {"detail": "caf\u00e9"})
    assert b"\\u00e9" in answer.body  # ASCII escapes, as the SDK writes them
    assert final["id"] == 7 and final["result"]["structuredContent"]["store"] == "warm"


async def test_an_opt_in_above_the_tools_levels_keeps_the_answer_json_on_both_paths() -> None:
    body = call_body("whoami", {}, **{"io.modelcontextprotocol/logLevel": "error"})
    async with both(LIGHT, SuiteSettings()) as pair:
        answer = await parity(pair, body, headers_for("whoami"))
        assert pair[0].sdk_requests == 0
    assert dict(answer.headers)["content-type"] == "application/json"


async def test_a_failing_light_tool_and_a_refused_elicitation_give_the_sdks_answers() -> None:
    logged = call_body("light_refuse", {}, **{"io.modelcontextprotocol/logLevel": "info"})
    async with both(LIGHT, SuiteSettings()) as pair:
        refused = await parity(pair, call_body("light_refuse", {}), headers_for("light_refuse"))
        streamed = await parity(pair, logged, headers_for("light_refuse"))
        asked = await parity(pair, call_body("light_asks", {}), headers_for("light_asks"))
        assert pair[0].sdk_requests == 0 and pair[1].sdk_requests == 3
    assert refused.json()["result"]["isError"] is True
    assert "refused: call whoami instead" in refused.json()["result"]["content"][0]["text"]
    assert sse_events(streamed)[-1]["result"]["isError"] is True
    assert refused.status == 200
    assert asked.status == 400 and "no back-channel" in asked.json()["error"]["message"]


@pytest.mark.parametrize(
    ("case", "body", "tool"),
    [
        ("progress token", call_body("whoami", {}, progressToken="p1"), "whoami"),
        (
            "a client with the capability the tool names",
            call_body("whoami", {}).replace(
                b'"io.modelcontextprotocol/clientCapabilities": {}',
                b'"io.modelcontextprotocol/clientCapabilities": {"sampling": {}}',
            ),
            "whoami",
        ),
    ],
)
async def test_a_light_call_the_fast_path_does_not_own_is_answered_by_the_sdk(
    case: str, body: bytes, tool: str
) -> None:
    async with both(LIGHT, SuiteSettings()) as pair:
        await parity(pair, body, headers_for(tool))
        assert pair[0].sdk_requests == 1, case


async def test_in_json_response_mode_a_light_tools_log_lines_are_dropped_on_both_paths() -> None:
    body = call_body("whoami", {}, **{"io.modelcontextprotocol/logLevel": "debug"})
    async with both(LIGHT, SuiteSettings()) as pair:
        for served in pair:
            served.server.session_manager.json_response = True
        answer = await parity(pair, body, headers_for("whoami", accept="application/json"))
        assert pair[0].sdk_requests == 0
    assert dict(answer.headers)["content-type"] == "application/json"
    assert answer.json()["result"]["structuredContent"]["request"] == "7"


async def test_the_filesystem_servers_light_tools_take_the_fast_path_unless_the_client_has_roots(
    tmp_path: Path,
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    settings = FILESYSTEM.apply_arguments(SuiteSettings(data_dir=tmp_path / "data"), [str(root)])
    with_roots = call_body("list_allowed_directories", {}).replace(
        b'"io.modelcontextprotocol/clientCapabilities": {}',
        b'"io.modelcontextprotocol/clientCapabilities": {"roots": {}}',
    )
    async with both(FILESYSTEM, settings) as pair:
        headers = headers_for("list_allowed_directories")
        answer = await parity(pair, call_body("list_allowed_directories", {}), headers)
        assert pair[0].sdk_requests == 0
        rooted = await post(pair[0], with_roots, headers)
        assert pair[0].sdk_requests == 1
    assert answer.status == 200 and answer.json()["result"]["isError"] is False
    assert str(root) in answer.body.decode()
    assert rooted.status == 200
