"""Every read tool of the search, vectorstore and aiml servers qualifies for the HTTP fast path.

The servers are built as ``mcp-suite serve`` builds them (protocol features, call metrics); a
stateless call of each read-only tool, from a client with no capabilities and asking for no progress,
must qualify. A call asking for progress stays with the SDK for a tool that takes a ``Context``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp.server import MCPServer

from servers.aiml.server import DEFINITION as AIML
from servers.runtime.definition import ServerDefinition
from servers.runtime.fast_tool_call import FastToolCalls
from servers.runtime.observability import instrument_server
from servers.runtime.protocol_features import add_protocol_features
from servers.search.server import DEFINITION as SEARCH
from servers.vectorstore.server import DEFINITION as VECTORSTORE
from suite.settings import SuiteSettings

META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "read-tools-test", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {},
}


def built(definition: ServerDefinition, data_dir: Path) -> MCPServer[Any]:
    server = definition.build(SuiteSettings(data_dir=data_dir))
    add_protocol_features(server)
    instrument_server(server, definition.name)
    return server


def request(tool: str, **meta: Any) -> dict[str, Any]:
    params = {"name": tool, "arguments": {}, "_meta": {**META, **meta}}
    return {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}


def routing(tool: str) -> dict[str, str]:
    return {"mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": tool}


@pytest.mark.parametrize("definition", [SEARCH, VECTORSTORE, AIML], ids=lambda d: d.name)
def test_every_read_tool_qualifies_for_the_http_fast_path(definition: ServerDefinition, tmp_path: Path) -> None:
    server = built(definition, tmp_path)
    calls = FastToolCalls(server)
    assert calls.plain_server()[0]
    read_tools = [
        tool for tool in server._tool_manager.list_tools() if tool.annotations and tool.annotations.read_only_hint
    ]
    assert read_tools
    refused = [t.name for t in read_tools if calls.qualify(request(t.name), routing(t.name), light=True) is None]
    assert refused == []


def test_a_light_aiml_tool_asked_for_progress_stays_with_the_sdk(tmp_path: Path) -> None:
    calls = FastToolCalls(built(AIML, tmp_path))
    assert calls.qualify(request("embed"), routing("embed"), light=True) is not None
    assert calls.qualify(request("embed", progressToken="p"), routing("embed"), light=True) is None
    assert calls.qualify(request("embed"), routing("embed")) is None  # a transport without light contexts
