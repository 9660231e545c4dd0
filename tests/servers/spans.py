"""Driving a server through the real SDK client inside a caller's span, and reading the backend spans it made.

A test calls :func:`traced_calls` with a built ``MCPServer`` and some tool calls; every span the
process finished meanwhile comes back in a :class:`Traced`. :meth:`Traced.backend` finds the SDK's
SERVER span of one ``tools/call`` and the CLIENT spans directly under it, and checks they belong to
the caller's trace (the way a gateway's trace continues into the server).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from mcp import Client
from mcp.server import MCPServer
from mcp.types import CallToolResult
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanContext, SpanKind

from mesh import tracing
from tests.support.observability import captured_spans

Call = tuple[str, dict[str, Any]]


@dataclass
class Traced:
    results: list[CallToolResult]
    spans: list[ReadableSpan]
    caller: SpanContext

    def server_span(self, tool: str) -> ReadableSpan:
        """The SDK's SERVER span of the (single) ``tools/call`` of ``tool``, in the caller's trace."""
        found = [s for s in self.spans if s.kind is SpanKind.SERVER and s.name == f"tools/call {tool}"]
        assert len(found) == 1, [s.name for s in self.spans]
        server = found[0]
        assert server.context is not None
        assert server.context.trace_id == self.caller.trace_id, "the server span left the caller's trace"
        return server

    def backend(self, tool: str) -> list[ReadableSpan]:
        """The CLIENT spans whose parent is the SERVER span of ``tool``'s call (same trace), in start order."""
        server = self.server_span(tool)
        assert server.context is not None
        children = [
            s
            for s in self.spans
            if s.kind is SpanKind.CLIENT and s.parent is not None and s.parent.span_id == server.context.span_id
        ]
        for child in children:
            assert child.context is not None and child.context.trace_id == server.context.trace_id
        return sorted(children, key=lambda s: s.start_time or 0)

    def only_backend(self, tool: str) -> ReadableSpan:
        children = self.backend(tool)
        assert len(children) == 1, [s.name for s in children]
        return children[0]


async def traced_calls(server: MCPServer[Any], *calls: Call) -> Traced:
    """Call each tool in one client session opened inside a ``caller`` span; the spans finished meanwhile."""
    with captured_spans() as exporter:
        with tracing.span("caller") as caller:
            async with Client(server, mode="legacy") as client:
                results = [await client.call_tool(name, arguments) for name, arguments in calls]
        spans = list(exporter.get_finished_spans())
    return Traced(results, spans, caller.get_span_context())


UNTOUCHABLE_TRACER = """
from mesh import tracing

class Untouchable:
    def start_as_current_span(self, *args, **kwargs):
        raise AssertionError("a span was started while tracing is off")
    start_span = start_as_current_span

tracing._tracer = Untouchable()
"""
"""Prepended to a script run in a fresh interpreter: any span started there fails it (tracing must be off)."""


def span_texts(spans: Iterable[ReadableSpan]) -> str:
    """Everything the spans carry as text: names, attribute values, events, status descriptions."""
    parts: list[str] = []
    for span in spans:
        parts.append(span.name)
        parts.extend(f"{key}={value!r}" for key, value in (span.attributes or {}).items())
        for event in span.events:
            parts.append(event.name)
            parts.extend(f"{key}={value!r}" for key, value in (event.attributes or {}).items())
        parts.append(span.status.description or "")
    return "\n".join(parts)


def attributes(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})
