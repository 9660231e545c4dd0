"""Tracing: off unless configured, OTLP or a JSON-lines file when it is, W3C context in and out of ``_meta``."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan

from mesh import tracing
from mesh.resilience import Bulkhead
from tests.support.observability import captured_spans, run_python


def test_without_a_destination_tracing_stays_off_and_spans_are_a_shared_null_context() -> None:
    code = """
from opentelemetry import trace
from mesh import tracing
assert tracing.configure_tracing("mcp-test") is False
assert not tracing.active()
assert type(trace.get_tracer_provider()).__name__ == "ProxyTracerProvider"
first, second = tracing.span("a", {"k": 1}), tracing.span("b")
assert first is second
with first as span:
    assert not span.get_span_context().is_valid
meta = {}
tracing.inject_context(meta)
assert meta == {}
print("off")
"""
    done = run_python(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "off"


def test_a_trace_file_gets_one_json_line_per_span_and_log_lines_carry_its_ids(tmp_path: Path) -> None:
    path = tmp_path / "spans.jsonl"
    code = """
import logging
from mesh import tracing
from mesh.telemetry import configure_logging
configure_logging("info", service="test")
assert tracing.configure_tracing("mcp-test") is True
with tracing.span("outer", {"mcp_suite.server": "demo"}):
    with tracing.span("inner"):
        logging.getLogger("mcp_suite.test").info("inside")
"""
    done = run_python(code, MCP_SUITE_TRACE_FILE=str(path))
    assert done.returncode == 0, done.stderr
    spans = [json.loads(line) for line in path.read_text().splitlines()]
    assert [s["name"] for s in spans] == ["inner", "outer"]
    inner, outer = spans
    assert inner["context"]["trace_id"] == outer["context"]["trace_id"]
    assert inner["parent_id"] == outer["context"]["span_id"]
    assert outer["attributes"] == {"mcp_suite.server": "demo"}
    assert outer["resource"]["attributes"]["service.name"] == "mcp-test"
    logged = [json.loads(line) for line in done.stderr.splitlines() if '"msg": "inside"' in line]
    assert len(logged) == 1
    assert "0x" + logged[0]["trace_id"] == inner["context"]["trace_id"]
    assert "0x" + logged[0]["span_id"] == inner["context"]["span_id"]


def test_otel_service_name_wins_over_the_default_name(tmp_path: Path) -> None:
    path = tmp_path / "spans.jsonl"
    code = "from mesh import tracing\ntracing.configure_tracing('mcp-test')\nwith tracing.span('x'): pass\n"
    done = run_python(code, MCP_SUITE_TRACE_FILE=str(path), OTEL_SERVICE_NAME="mcp-filesystem-2")
    assert done.returncode == 0, done.stderr
    (span,) = [json.loads(line) for line in path.read_text().splitlines()]
    assert span["resource"]["attributes"]["service.name"] == "mcp-filesystem-2"


class _Collector(BaseHTTPRequestHandler):
    received: list[tuple[str, str, int]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(length)
        _Collector.received.append((self.path, self.headers.get("content-type", ""), len(body)))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


@contextmanager
def otlp_collector_double() -> Iterator[str]:
    """A local HTTP endpoint that accepts OTLP/HTTP exports and records them (a double of the collector)."""
    _Collector.received = []
    server = HTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_an_otlp_endpoint_receives_the_spans_over_http_protobuf() -> None:
    code = (
        "from mesh import tracing\nassert tracing.configure_tracing('mcp-test')\nwith tracing.span('exported'): pass\n"
    )
    with otlp_collector_double() as endpoint:
        done = run_python(code, OTEL_EXPORTER_OTLP_ENDPOINT=endpoint)
        received = list(_Collector.received)
    assert done.returncode == 0, done.stderr
    assert received, "nothing was exported"
    path, content_type, size = received[0]
    assert path == "/v1/traces"
    assert content_type == "application/x-protobuf"
    assert size > 0


def test_injected_context_extracts_to_the_same_span() -> None:
    with captured_spans(), tracing.span("caller") as caller:
        meta: dict[str, object] = {"progressToken": 1}
        tracing.inject_context(meta)
        extracted = tracing.extract_context(meta)
    assert isinstance(meta["traceparent"], str)
    assert extracted is not None
    from opentelemetry import trace

    remote = trace.get_current_span(extracted).get_span_context()
    assert remote.trace_id == caller.get_span_context().trace_id
    assert remote.span_id == caller.get_span_context().span_id
    assert meta["progressToken"] == 1


@pytest.mark.parametrize(
    "meta",
    [None, {}, {"traceparent": "garbage"}, {"traceparent": "00-" + "0" * 32 + "-" + "0" * 16 + "-01"}, {"x": 1}],
)
def test_a_missing_or_malformed_traceparent_extracts_to_nothing(meta: dict[str, object] | None) -> None:
    assert tracing.extract_context(meta) is None


@pytest.mark.anyio
async def test_a_wait_span_covers_the_wait_for_a_slot_and_not_the_guarded_work() -> None:
    bulkhead = Bulkhead(limit=1, queue_limit=1, name="scope")
    with captured_spans() as exporter:
        async with tracing.traced_wait(bulkhead.slot(), "gateway.queue", {"mcp_suite.bulkhead.scope": "scope"}):
            assert bulkhead.active == 1
            with tracing.span("work"):
                pass
        spans = {s.name: s for s in exporter.get_finished_spans()}
    assert bulkhead.active == 0
    queue, work = spans["gateway.queue"], spans["work"]
    assert queue.end_time is not None and work.start_time is not None
    assert queue.end_time <= work.start_time


@pytest.mark.anyio
async def test_a_failure_inside_a_traced_wait_still_gives_the_slot_back() -> None:
    bulkhead = Bulkhead(limit=1, queue_limit=0, name="scope")
    with captured_spans(), pytest.raises(RuntimeError):
        async with tracing.traced_wait(bulkhead.slot(), "gateway.queue"):
            raise RuntimeError("boom")
    assert bulkhead.active == 0


def test_the_auth_and_backend_helpers_name_their_spans() -> None:
    with captured_spans() as exporter:
        with tracing.auth_span("bearer") as auth:
            auth.set_attribute("enduser.id", "alice")
        with tracing.backend_span("postgresql", "SELECT", {"db.namespace": "test"}):
            pass
        spans: dict[str, ReadableSpan] = {s.name: s for s in exporter.get_finished_spans()}
    assert dict(spans["gateway.auth"].attributes or {}) == {"mcp_suite.auth.scheme": "bearer", "enduser.id": "alice"}
    backend = spans["postgresql SELECT"]
    assert backend.kind.name == "CLIENT"
    assert dict(backend.attributes or {}) == {
        "db.system": "postgresql",
        "db.operation.name": "SELECT",
        "db.namespace": "test",
    }
