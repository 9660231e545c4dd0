"""A tool's return value turned into its ``tools/call`` result, as the SDK's ``MCPServer.call_tool`` does.

The SDK converts a structured return in three passes: ``FuncMetadata.convert_result`` validates it against
the declared output model, dumps it and wraps it in a ``CallToolResult``; the ``tools/call`` handler dumps
that model; the per-version serializer validates the dump against the protocol surface and dumps it again.
For the commonest structured tool, one that returns an instance of exactly the model it declares, all of
that yields a fixed shape: one text block with the model's indented JSON, the model's JSON dump as
``structuredContent``, ``isError: false``, ``resultType: "complete"``. :func:`declared_model_result`
builds that dict in one pass (about a sixth of a server's CPU per call on a small database lookup). Every
other return takes the SDK's own conversion. The fast path's parity tests compare both against the SDK's
transport byte for byte.
"""

from __future__ import annotations

from typing import Any

import pydantic_core
from mcp.server.mcpserver.exceptions import ResourceError, ToolError, UnexpectedResourceError, UnexpectedToolError
from mcp.server.mcpserver.tools.base import Tool
from mcp.shared.exceptions import MCPError
from mcp_types import ContentBlock
from pydantic import BaseModel, TypeAdapter

from servers.kit.tool_errors import CodedTool, coded_failure

_STRUCTURED: TypeAdapter[dict[str, Any]] = TypeAdapter(dict[str, Any])


def declared_model_result(tool: Tool, raw: Any) -> dict[str, Any] | None:
    """The wire result of ``raw`` if it is an instance of exactly the tool's declared output model, else None.

    The SDK's conversion of such a value: the output adapter returns the instance itself (pydantic does not
    revalidate an instance of the model's own class unless the model asks for it), the structured content
    is its ``model_dump(mode="json", by_alias=True)`` (non-finite floats as null, as the surface dump writes them), and the text block is ``pydantic_core.to_json`` of it
    with ``indent=2``. A subclass instance, a revalidating model, a content block or a wrapped return
    (``-> int``) is left to the SDK.
    """
    metadata = tool.fn_metadata
    model = metadata.output_model
    if metadata.output_schema is None or metadata.wrap_output or model is None or type(raw) is not model:
        return None
    if not isinstance(raw, BaseModel) or isinstance(raw, ContentBlock):
        return None
    if raw.model_config.get("revalidate_instances", "never") == "always":
        return None
    try:
        text = pydantic_core.to_json(raw, fallback=str, indent=2).decode()
        # The surface dump passes the structured content through ``dict[str, Any]`` in JSON mode once more,
        # which turns a non-finite float the model dump kept into null: so does this.
        structured = _STRUCTURED.dump_python(raw.model_dump(mode="json", by_alias=True), mode="json")
    except MCPError:
        raise
    except Exception as exc:
        raise run_failure(tool, exc) from exc
    # Keys in the order of the SDK's 2026-07-28 surface dump, so the bytes on the wire are the same.
    return {
        "content": [{"text": text, "type": "text"}],
        "isError": False,
        "resultType": "complete",
        "structuredContent": structured,
    }


def converted(tool: Tool, raw: Any) -> BaseModel:
    """``raw`` through the SDK's own conversion (``FuncMetadata.convert_result``)."""
    try:
        return tool.fn_metadata.convert_result(raw)
    except MCPError:
        raise
    except Exception as exc:
        raise run_failure(tool, exc) from exc


def run_failure(tool: Tool, exc: Exception) -> Exception:
    """What ``Tool.run`` raises for a conversion failure, as it converts inside its own ``try``: a tool or
    resource error keeps its text under the tool's name; anything else is a crash whose text stays on the
    server. A :class:`~servers.kit.tool_errors.CodedTool` answers code first, as its ``run`` would.
    (``MCPError`` is never passed here: it propagates unchanged.)"""
    failure: ToolError
    if isinstance(exc, UnexpectedToolError | UnexpectedResourceError):
        failure = UnexpectedToolError(f"Error executing tool {tool.name}: {exc}")
    elif isinstance(exc, ToolError | ResourceError):
        failure = ToolError(f"Error executing tool {tool.name}: {exc}")
    else:
        failure = UnexpectedToolError(f"Error executing tool {tool.name}")
    failure.__cause__ = exc
    return coded_failure(tool.name, failure) if isinstance(tool, CodedTool) else failure
