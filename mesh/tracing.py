"""OpenTelemetry tracing for the gateway and the servers: set-up, cheap spans, W3C context in ``_meta``.

Off by default. :func:`configure_tracing` installs an SDK tracer provider only when there is
somewhere to send spans:

- ``OTEL_EXPORTER_OTLP_ENDPOINT`` set: OTLP over HTTP/protobuf (the exporter reads the standard
  ``OTEL_EXPORTER_OTLP_*`` variables itself), batched;
- ``MCP_SUITE_TRACE_FILE`` set: one JSON object per finished span appended to that file (local
  debugging, no collector needed).

Without either, nothing is installed: the API's no-op tracer stays in place, and :func:`span`
returns a shared null context without touching OpenTelemetry at all, so tracing costs a flag check.

The servers need nothing from here to join a trace: the SDK's ``OpenTelemetryMiddleware`` (on every
``MCPServer`` by default) opens a SERVER span per message and continues the W3C trace context it
finds in the request's ``_meta``. The gateway puts it there with :func:`inject_context`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import AsyncIterator, Iterator, Mapping, MutableMapping, Sequence
from contextlib import (
    AbstractAsyncContextManager,
    AbstractContextManager,
    asynccontextmanager,
    contextmanager,
    nullcontext,
)
from datetime import UTC, datetime
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import INVALID_SPAN, NoOpTracerProvider, ProxyTracerProvider, Span, SpanKind, StatusCode

log = logging.getLogger("mcp_suite.tracing")

__all__ = [
    "NULL_SPAN",
    "TRACE_FILE_ENV",
    "Attributes",
    "JsonLinesSpanExporter",
    "NotedAuth",
    "active",
    "auth_failure",
    "auth_span",
    "backend_span",
    "configure_tracing",
    "emit_noted_auth",
    "extract_context",
    "inject_context",
    "server_span",
    "span",
    "traced_wait",
]

TRACE_FILE_ENV = "MCP_SUITE_TRACE_FILE"
OTLP_ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"
OTLP_TRACES_ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"

Attributes = Mapping[str, str | bool | int | float]

# Span attribute names used across the suite.
SUPERVISOR = "mcp_suite.supervisor"
SERVER = "mcp_suite.server"
INSTANCE = "mcp_suite.instance"
TOOL = "mcp_suite.tool"
METHOD = "mcp.method.name"
RETRY_COUNT = "mcp_suite.retry.count"
BREAKER_STATE = "mcp_suite.breaker.state"
OUTCOME = "mcp_suite.outcome"

_tracer = trace.get_tracer("mcp_suite")
_NO_SPAN: AbstractContextManager[Span] = nullcontext(INVALID_SPAN)
NULL_SPAN = _NO_SPAN  # what the span helpers return while tracing is off, for callers that check active() first
_active = False


_UNKNOWN = object()
trace.get_tracer_provider()  # loads a provider named by OTEL_PYTHON_TRACER_PROVIDER, if any


def active() -> bool:
    """Whether a real (SDK) tracer provider is installed; once true it stays true.

    Called several times per gateway call, so the "off" answer reads the API's global directly
    (``get_tracer_provider()`` looks at the environment on every call: ~0.9 µs against ~0.05 µs).
    """
    global _active
    if _active:
        return True
    installed = getattr(trace, "_TRACER_PROVIDER", _UNKNOWN)
    if installed is None:
        return False
    provider = trace.get_tracer_provider() if installed is _UNKNOWN else installed
    _active = not isinstance(provider, ProxyTracerProvider | NoOpTracerProvider)
    return _active


def span(
    name: str,
    attributes: Attributes | None = None,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    context: otel_context.Context | None = None,
) -> AbstractContextManager[Span]:
    """A current span around the block, or a shared null context (yielding an invalid span) when tracing is off.

    An exception leaving the block is recorded on the span and marks it as an error.
    """
    if not active():
        return _NO_SPAN
    return _tracer.start_as_current_span(name, context=context, kind=kind, attributes=attributes)


def server_span(method: str, name: str | None, meta: Mapping[str, Any] | None) -> AbstractContextManager[Span]:
    """A SERVER span for a request answered outside the SDK (the gateway's fast path), continuing the
    caller's W3C trace context from ``meta``; named and attributed like the SDK's ``OpenTelemetryMiddleware``."""
    if not active():
        return _NO_SPAN
    attributes: dict[str, str] = {METHOD: method}
    if name is not None:
        attributes["gen_ai.tool.name" if method == "tools/call" else TOOL] = name
    return _tracer.start_as_current_span(
        f"{method} {name}" if name else method,
        context=extract_context(meta),
        kind=SpanKind.SERVER,
        attributes=attributes,
    )


def traced_wait(
    manager: AbstractAsyncContextManager[Any], name: str, attributes: Attributes | None = None
) -> AbstractAsyncContextManager[Any]:
    """``manager`` with a span around its *entry* only (the wait for a slot), not around the block it guards."""
    if not active():
        return manager
    return _traced_entry(manager, name, attributes)


@asynccontextmanager
async def _traced_entry(
    manager: AbstractAsyncContextManager[Any], name: str, attributes: Attributes | None
) -> AsyncIterator[Any]:
    with _tracer.start_as_current_span(name, attributes=attributes):
        value = await manager.__aenter__()
    try:
        yield value
    except BaseException as exc:
        if not await manager.__aexit__(type(exc), exc, exc.__traceback__):
            raise
    else:
        await manager.__aexit__(None, None, None)


NotedAuth = tuple[int, int, dict[str, str]]
"""A request's authentication step, timed before any span of the request existed: start and end (ns), attributes."""


def emit_noted_auth(noted: NotedAuth) -> None:
    """Record a noted authentication step as a ``gateway.auth`` span, with its real times, under the current
    span (the request's SERVER span, once the request has one)."""
    if not active():
        return
    started_ns, ended_ns, attributes = noted
    _tracer.start_span("gateway.auth", start_time=started_ns, attributes=attributes).end(end_time=ended_ns)


def auth_failure(started_ns: int, attributes: dict[str, str], problem: str) -> None:
    """A refused authentication as a ``gateway.auth`` span of its own (no call follows it), status ERROR."""
    if not active():
        return
    refused = _tracer.start_span("gateway.auth", start_time=started_ns, attributes=attributes)
    refused.set_status(StatusCode.ERROR, problem)
    refused.end()


def auth_span(scheme: str | None = None) -> AbstractContextManager[Span]:
    """The gateway's authentication step: ``with auth_span("bearer") as s: ...; s.set_attribute("enduser.id", sub)``."""
    return span("gateway.auth", {"mcp_suite.auth.scheme": scheme} if scheme else None)


def backend_span(system: str, operation: str, attributes: Attributes | None = None) -> AbstractContextManager[Span]:
    """A CLIENT span ``"<system> <operation>"`` around a server's call to its backend (``db.system``: postgresql,
    redis, ...; ``db.operation.name``: the command), or the shared null context when tracing is off.

    A failure is recorded without its message, which may quote a URL, a password or a parameter value:
    status ERROR, ``error.type`` (the exception's stable ``code`` when it has one, else its class name)
    and an ``exception`` event carrying ``exception.type`` only.
    """
    if not active():
        return _NO_SPAN
    merged: dict[str, str | bool | int | float] = {"db.system": system, "db.operation.name": operation}
    if attributes:
        merged.update(attributes)
    return _backend_span(f"{system} {operation}", merged)


_ERROR_CODE = re.compile(r"[\w.:-]{1,100}")


@contextmanager
def _backend_span(name: str, attributes: Attributes) -> Iterator[Span]:
    with _tracer.start_as_current_span(
        name, kind=SpanKind.CLIENT, attributes=attributes, record_exception=False, set_status_on_exception=False
    ) as current:
        try:
            yield current
        except Exception as exc:  # cancellation (BaseException) is not a backend failure
            code = getattr(exc, "code", None)
            error_type = code if isinstance(code, str) and _ERROR_CODE.fullmatch(code) else type(exc).__qualname__
            current.set_attribute("error.type", error_type)
            current.add_event("exception", {"exception.type": f"{type(exc).__module__}.{type(exc).__qualname__}"})
            current.set_status(StatusCode.ERROR, error_type)
            raise


def inject_context(meta: MutableMapping[str, Any]) -> None:
    """Put the current span's W3C trace context (``traceparent``, ``tracestate``) into a ``_meta`` dict."""
    if active():
        propagate.inject(meta)


def extract_context(meta: Mapping[str, Any] | None) -> otel_context.Context | None:
    """The W3C trace context a caller put into ``_meta``, or None (then spans nest under the current one)."""
    if not meta or "traceparent" not in meta:
        return None
    try:
        extracted = propagate.extract(meta)
    except (TypeError, ValueError):
        return None
    return extracted if trace.get_current_span(extracted).get_span_context().is_valid else None


# ---- set-up ---------------------------------------------------------------------------------------------


class JsonLinesSpanExporter:
    """Appends each finished span to a file as one JSON object per line (``MCP_SUITE_TRACE_FILE``)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._resources: dict[int, Any] = {}

    def export(self, spans: Sequence[Any]) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult

        lines = [json.dumps(self._record(item), separators=(",", ":"), default=str) for item in spans]
        try:
            with self._lock, open(self.path, "a", encoding="utf-8") as handle:
                handle.write("".join(line + "\n" for line in lines))
        except OSError as exc:
            log.warning("cannot write spans", extra={"path": self.path, "error": str(exc)})
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def _record(self, span: Any) -> dict[str, Any]:
        """The fields of the SDK's ``ReadableSpan.to_json`` (same names and formats), built directly: the
        SDK's own serialiser costs several times more, in a thread that shares the GIL with the calls."""
        context, parent, status = span.context, span.parent, span.status
        resource = self._resources.get(id(span.resource))
        if resource is None:
            resource = {"attributes": dict(span.resource.attributes), "schema_url": span.resource.schema_url}
            self._resources[id(span.resource)] = resource
        return {
            "name": span.name,
            "context": {
                "trace_id": f"0x{context.trace_id:032x}",
                "span_id": f"0x{context.span_id:016x}",
                "trace_state": repr(context.trace_state),
            },
            "kind": str(span.kind),
            "parent_id": f"0x{parent.span_id:016x}" if parent is not None else None,
            "start_time": _iso(span.start_time),
            "end_time": _iso(span.end_time),
            "status": {
                "status_code": status.status_code.name,
                **({"description": status.description} if status.description else {}),
            },
            "attributes": dict(span.attributes or {}),
            "events": [
                {"name": event.name, "timestamp": _iso(event.timestamp), "attributes": dict(event.attributes or {})}
                for event in span.events
            ],
            "links": [
                {
                    "context": {
                        "trace_id": f"0x{link.context.trace_id:032x}",
                        "span_id": f"0x{link.context.span_id:016x}",
                    },
                    "attributes": dict(link.attributes or {}),
                }
                for link in span.links
            ],
            "resource": resource,
        }

    def shutdown(self) -> None:
        """Nothing held open between exports."""

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def _iso(nanoseconds: int | None) -> str | None:
    """A span time as the SDK's JSON writes it: ISO 8601, UTC, microseconds."""
    if nanoseconds is None:
        return None
    return datetime.fromtimestamp(nanoseconds / 1e9, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def configure_tracing(service_name: str, environ: Mapping[str, str] | None = None) -> bool:
    """Install an SDK tracer provider if ``environ`` names a destination; return whether tracing is on.

    ``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES`` win over ``service_name`` when set.
    Safe to call more than once: only the first provider of a process counts.
    """
    env = os.environ if environ is None else environ
    endpoint = env.get(OTLP_TRACES_ENDPOINT_ENV) or env.get(OTLP_ENDPOINT_ENV)
    trace_file = env.get(TRACE_FILE_ENV)
    if not endpoint and not trace_file:
        return active()
    if active():
        return True
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    attributes = {} if env.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: service_name}
    provider = TracerProvider(resource=Resource.create(attributes))
    if endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    if trace_file:
        # Batched like OTLP, off the request path (a span written inline cost a call ~0.5 ms); flushed
        # every 200 ms and at exit, so a local trace file still fills as the calls happen.
        file_exporter = JsonLinesSpanExporter(trace_file)
        # Small batches: a batch is serialised holding the GIL, and a big one stalls the event loop (p99).
        processor = BatchSpanProcessor(file_exporter, schedule_delay_millis=200, max_export_batch_size=32)  # type: ignore[arg-type]
        provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    log.info(
        "tracing on",
        extra={"service_name": service_name, "otlp_endpoint": endpoint or None, "trace_file": trace_file or None},
    )
    return active()


@contextmanager
def attached(ctx: otel_context.Context | None) -> Iterator[None]:
    """Make ``ctx`` the current OpenTelemetry context for the block (nothing when None)."""
    if ctx is None:
        yield
        return
    token = otel_context.attach(ctx)
    try:
        yield
    finally:
        otel_context.detach(token)
