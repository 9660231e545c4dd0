"""The kit's coded error, and every tool failure of a coded server reaching the client code first."""

import pickle
from typing import Annotated, Any

import pytest
from mcp import Client
from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from servers.kit.tool_errors import CodedToolError, code_tool_errors
from tests.support.tool_results import text_of


class ServerError(CodedToolError):
    pass


def test_a_coded_error_reads_code_first_and_keeps_its_parts() -> None:
    error = CodedToolError("not_found", "'a.txt' does not exist")
    assert isinstance(error, ToolError)
    assert str(error) == "not_found: 'a.txt' does not exist"
    assert (error.code, error.detail) == ("not_found", "'a.txt' does not exist")


def test_a_servers_own_error_crosses_a_process_boundary_as_itself() -> None:
    copy = pickle.loads(pickle.dumps(ServerError("stale", "the file changed")))
    assert type(copy) is ServerError
    assert (copy.code, copy.detail, str(copy)) == ("stale", "the file changed", "stale: the file changed")


# Every tool error of a server reaches the client code first, whichever way the tool failed.


def _coded_server() -> MCPServer[Any]:
    server: MCPServer[Any] = MCPServer("coded")

    @server.tool()
    def lookup(key: Annotated[str, Field(max_length=8)]) -> str:
        raise ServerError("not_found", f"no entry {key!r}; list_entries names them")

    @server.tool()
    def plain() -> str:
        raise ToolError("the tool's own words")

    @server.tool()
    def crash() -> str:
        raise RuntimeError("password=hunter2 at /srv/secret.py line 3")

    code_tool_errors(server)
    return server


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["legacy", "auto"])
@pytest.mark.parametrize(
    ("tool", "arguments", "start"),
    [
        ("lookup", {"key": "a"}, "not_found: no entry 'a'; list_entries names them"),
        ("lookup", {"key": "far too long"}, "invalid_arguments: key: String should have at most 8 characters;"),
        ("lookup", {}, "invalid_arguments: key: Field required;"),
        ("plain", {}, "tool_error: the tool's own words"),
        ("crash", {}, "internal_error: the tool `crash` failed unexpectedly;"),
        ("missing", {}, "unknown_tool: this server has no tool 'missing'"),
    ],
)
async def test_every_tool_failure_reaches_the_client_code_first(
    mode: str, tool: str, arguments: dict[str, Any], start: str
) -> None:
    async with Client(_coded_server(), mode=mode) as client:
        result = await client.call_tool(tool, arguments)
    text = text_of(result)
    assert result.is_error and text.startswith(start), text
    assert "Error executing tool" not in text


@pytest.mark.anyio
async def test_a_crash_shows_the_client_none_of_its_text_and_the_server_logs_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with Client(_coded_server(), mode="legacy") as client:
        result = await client.call_tool("crash", {})
    assert "hunter2" not in text_of(result) and "Traceback" not in text_of(result)
    assert "raised an unexpected exception" in caplog.text
    assert "RuntimeError: password=hunter2" in caplog.text  # the traceback of the cause, on the server


@pytest.mark.anyio
async def test_refused_arguments_do_not_echo_the_values_sent() -> None:
    async with Client(_coded_server(), mode="legacy") as client:
        result = await client.call_tool("lookup", {"key": "secret-value-123"})
    assert "secret-value-123" not in text_of(result)
