"""What the gateway shows operators after real calls over real SDK upstreams: metrics, traces, log lines."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import anyio
import httpx
import pytest
import uvicorn
from mcp import Client
from mcp.shared.exceptions import MCPError
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanContext, StatusCode

from gateway.call.catalog import ALL, View
from gateway.call.router import GatewayError
from gateway.call.service import Gateway
from gateway.door.http_app import build_gateway_app
from gateway.door.mcp_endpoint import Endpoint
from gateway.door.metrics_endpoint import gateway_metrics
from gateway.settings import BreakerPolicy, GatewaySettings, Policy, ServerGroupSettings, SupervisorSettings
from gateway.upstream.mcp_client import UpstreamError
from mesh.config import StaticInstance
from mesh.registry import StaticRegistry
from mesh.security.tokens import mint_token
from mesh.telemetry import JsonLineFormatter
from tests.support.gateway_fixtures import demo_gateway
from tests.support.observability import Labels, captured_spans, parse_exposition, value
from tests.support.security_fixtures import JWT_SECRET, MODERN, secured_suite
from tests.support.upstreams import Replica, demo_server, free_port, serve_app, serve_http

pytestmark = pytest.mark.anyio

Samples = dict[str, dict[Labels, float]]

# One slot and a short queue for demo's slow tool; a breaker that opens after two failures and stays open.
SETTINGS = GatewaySettings(
    policy=Policy(
        timeout_seconds=5,
        retries=1,
        breaker=BreakerPolicy(failure_threshold=2, cooldown_seconds=60, window=20, min_calls=10),
    ),
    servers={"demo": ServerGroupSettings(tools={"slow": Policy(max_concurrent=1, queue_limit=1, retries=0)})},
)


def scrape(gateway: Gateway) -> Samples:
    return parse_exposition(gateway_metrics(gateway).exposition().decode())


def calls(samples: Samples, tool: str, outcome: str) -> float:
    return value(samples, "mcp_gateway_calls_total", server="demo", tool=tool, outcome=outcome)


async def test_calls_are_counted_by_outcome_ok_tool_error_and_upstream_error() -> None:
    async with demo_gateway(settings=SETTINGS) as (gateway, _, _), Client(Endpoint(gateway, ALL).server) as client:
        before = scrape(gateway)
        for _ in range(3):
            assert not (await client.call_tool("demo_echo", {"text": "hi"})).is_error
        assert (await client.call_tool("demo_fail", {})).is_error
        with pytest.raises(UpstreamError):
            await gateway.forward_to_server(ALL, "demo", "resources/read", {"uri": "demo://no-such-thing"})
        after = scrape(gateway)
    assert calls(after, "echo", "ok") - calls(before, "echo", "ok") == 3
    assert calls(after, "fail", "tool_error") - calls(before, "fail", "tool_error") == 1
    assert calls(after, "resources/read", "upstream_error") == 1
    timed = value(after, "mcp_gateway_call_duration_seconds_count", server="demo", tool="echo")
    assert timed == 3
    assert value(after, "mcp_gateway_call_duration_seconds_sum", server="demo", tool="echo") > 0


async def test_calls_are_counted_under_the_supervisor_whose_policy_they_ran_under() -> None:
    settings = GatewaySettings(supervisors={"research": SupervisorSettings(servers=("demo",))})
    async with demo_gateway(settings=settings) as (gateway, _, _):
        echo = {"name": "echo", "arguments": {"text": "x"}}
        await gateway.call_tool(View("supervisor", "research"), "demo_echo", {**echo, "name": "demo_echo"})
        await gateway.call_tool(ALL, "demo_echo", {**echo, "name": "demo_echo"})  # /mcp: the server's supervisor
        samples = scrape(gateway)
    counted = samples["mcp_gateway_calls_total"]
    assert counted == {
        frozenset({"supervisor": "research", "server": "demo", "tool": "echo", "outcome": "ok"}.items()): 2.0
    }


async def test_a_call_no_instance_can_take_is_counted_unavailable() -> None:
    async with demo_gateway(replicas=1, settings=SETTINGS) as (gateway, _, upstreams):
        await upstreams[0].stop()
        with pytest.raises(GatewayError) as caught:
            await gateway.call_tool(ALL, "demo_destroy", {"name": "demo_destroy", "arguments": {"target": "x"}})
        samples = scrape(gateway)
    assert caught.value.code == -32001
    assert calls(samples, "destroy", "unavailable") == 1
    assert calls(samples, "destroy", "ok") == 0


async def test_a_full_queue_counts_busy_and_a_deadline_spent_waiting_counts_deadline() -> None:
    async with demo_gateway(settings=SETTINGS) as (gateway, replicas, _):
        replicas[0].gate = anyio.Event()
        slow = {"name": "demo_slow", "arguments": {"steps": 0}}
        async with anyio.create_task_group() as tg:
            tg.start_soon(gateway.call_tool, ALL, "demo_slow", slow)
            await replicas[0].entered.wait()  # the only slot is taken

            async def wait_then_give_up() -> None:
                with pytest.raises(GatewayError) as late:
                    await gateway.call_tool(ALL, "demo_slow", {**slow, "_meta": {"io.mcp-suite/timeoutMs": 300}})
                assert late.value.code == -32003

            tg.start_soon(wait_then_give_up)
            while gateway.router.bulkheads()["tool:demo/slow"]["queued"] < 1:
                await anyio.lowlevel.checkpoint()
            waiting = scrape(gateway)
            with pytest.raises(GatewayError) as refused:
                await gateway.call_tool(ALL, "demo_slow", slow)  # the queue of one is full
            while gateway.router.bulkheads()["tool:demo/slow"]["queued"] > 0:
                await anyio.sleep(0.02)  # the waiter's deadline passes
            replicas[0].gate.set()
        samples = scrape(gateway)
    assert refused.value.code == -32002
    assert value(waiting, "mcp_gateway_queue_depth", scope="tool:demo/slow") == 1
    assert value(waiting, "mcp_gateway_inflight_calls", server="demo") == 1
    assert calls(samples, "slow", "busy") == 1
    assert calls(samples, "slow", "deadline") == 1
    assert calls(samples, "slow", "ok") == 1
    assert value(samples, "mcp_gateway_queue_depth", scope="tool:demo/slow") == 0
    assert value(samples, "mcp_gateway_inflight_calls", server="demo") == 0


async def test_a_killed_replica_shows_an_open_breaker_an_unhealthy_instance_and_retries() -> None:
    async with (
        demo_gateway(replicas=2, settings=SETTINGS) as (gateway, replicas, upstreams),
        Client(Endpoint(gateway, ALL).server) as client,
    ):
        ids = [instance.instance_id for instance in gateway.registry.instances("demo")]
        healthy = scrape(gateway)
        await upstreams[1].stop()
        results = [await client.call_tool("demo_echo", {"text": str(i)}) for i in range(12)]
        for _ in range(gateway.settings.unhealthy_after_failures):  # consecutive failed probes
            await gateway.refresh()
        samples = scrape(gateway)
    assert not any(result.is_error for result in results)
    for instance in ids:
        assert value(healthy, "mcp_gateway_breaker_state", server="demo", instance=instance) == 0
        assert value(healthy, "mcp_gateway_instance_healthy", server="demo", instance=instance) == 1
    assert value(samples, "mcp_gateway_breaker_state", server="demo", instance=ids[1]) == 2
    assert value(samples, "mcp_gateway_breaker_state", server="demo", instance=ids[0]) == 0
    assert value(samples, "mcp_gateway_instance_healthy", server="demo", instance=ids[1]) == 0
    assert value(samples, "mcp_gateway_instance_healthy", server="demo", instance=ids[0]) == 1
    assert value(samples, "mcp_gateway_retries_total", server="demo") == 2  # two failures opened the breaker
    assert calls(samples, "echo", "ok") == 12
    assert replicas[0].calls["echo"] == 12


async def test_the_gateway_app_serves_metrics_in_the_prometheus_text_format_and_counters_move() -> None:
    async with serve_http(demo_server(Replica("a"))) as upstream:
        registry = StaticRegistry({"demo": (StaticInstance(url=upstream),)})
        app, _gateway = build_gateway_app(GatewaySettings(), registry)
        async with serve_app(app) as base, httpx.AsyncClient(base_url=base) as http:
            first = await http.get("/metrics")
            async with Client(f"{base}/mcp", mode="auto") as client:  # the stateless fast path
                for _ in range(2):
                    assert not (await client.call_tool("demo_echo", {"text": "x"})).is_error
            second = await http.get("/metrics")
    assert first.status_code == second.status_code == 200
    assert first.headers["content-type"].startswith("text/plain; version=0.0.4")
    before, after = parse_exposition(first.text), parse_exposition(second.text)
    assert calls(after, "echo", "ok") - calls(before, "echo", "ok") == 2
    instance = registry.instances("demo")[0].instance_id
    assert value(after, "mcp_gateway_breaker_state", server="demo", instance=instance) == 0
    assert value(after, "mcp_gateway_instance_healthy", server="demo", instance=instance) == 1
    assert "# TYPE mcp_gateway_rate_limited_total counter" in second.text  # exposed before any refusal


def span_named(spans: Sequence[ReadableSpan], name: str) -> ReadableSpan:
    matches = [s for s in spans if s.name == name]
    assert len(matches) == 1, [s.name for s in spans]
    return matches[0]


def span_id(span: ReadableSpan | SpanContext | None) -> int:
    context = span.get_span_context() if isinstance(span, ReadableSpan) else span
    assert context is not None
    return context.span_id


def trace_id(span: ReadableSpan) -> int:
    context = span.get_span_context()
    assert context is not None
    return context.trace_id


async def test_one_call_makes_one_trace_from_the_gateway_into_the_server() -> None:
    with captured_spans() as exporter:
        async with (
            demo_gateway(settings=SETTINGS) as (gateway, _, _),
            Client(Endpoint(gateway, ALL).server) as client,
        ):
            exporter.clear()  # the refresh's listings are not this call
            assert not (await client.call_tool("demo_echo", {"text": "traced"})).is_error
        spans = list(exporter.get_finished_spans())
    call = span_named(spans, "gateway.call")
    upstream = span_named(spans, "gateway.upstream")
    server = span_named(spans, "tools/call echo")  # the SDK's OpenTelemetryMiddleware in the upstream server
    entry = span_named(spans, "tools/call demo_echo")  # ... and in the gateway's own endpoint
    trace_ids = {trace_id(s) for s in (entry, call, upstream, server)}
    assert len(trace_ids) == 1
    assert span_id(server.parent) == span_id(upstream)
    assert span_id(upstream.parent) == span_id(call)
    assert span_id(call.parent) == span_id(entry)
    assert not [s for s in spans if s.name == "gateway.queue"]  # a slot was free: no wait, no span
    attributes = dict(upstream.attributes or {})
    assert attributes["mcp_suite.server"] == "demo"
    assert attributes["mcp_suite.instance"] == gateway.registry.instances("demo")[0].instance_id
    assert attributes["mcp_suite.retry.count"] == 0
    assert attributes["mcp_suite.breaker.state"] == "closed"
    assert attributes["mcp_suite.strategy"] == "round_robin"
    assert dict(call.attributes or {})["mcp_suite.tool"] == "echo"
    assert dict(call.attributes or {})["mcp_suite.outcome"] == "ok"


async def test_a_retry_gets_a_span_of_its_own() -> None:
    with captured_spans() as exporter:
        async with demo_gateway(replicas=2, settings=SETTINGS) as (gateway, _, upstreams):
            await upstreams[0].stop()
            exporter.clear()
            for i in range(4):  # round robin: at least one call tries the dead replica first
                await gateway.call_tool(ALL, "demo_echo", {"name": "demo_echo", "arguments": {"text": str(i)}})
        spans = list(exporter.get_finished_spans())
    retries = [s for s in spans if s.name == "gateway.retry"]
    assert retries, [s.name for s in spans]
    retry = retries[0]
    assert dict(retry.attributes or {})["mcp_suite.retry.count"] == 1
    children = [s for s in spans if s.parent is not None and span_id(s.parent) == span_id(retry)]
    assert [s.name for s in children] == ["gateway.upstream"]
    assert dict(children[0].attributes or {})["mcp_suite.retry.count"] == 1


async def test_a_call_that_waits_for_a_bulkhead_slot_gets_a_queue_span_covering_the_wait() -> None:
    with captured_spans() as exporter:
        async with demo_gateway(settings=SETTINGS) as (gateway, replicas, _):
            replicas[0].gate = anyio.Event()
            slow = {"name": "demo_slow", "arguments": {"steps": 0}}
            exporter.clear()
            async with anyio.create_task_group() as tg:
                tg.start_soon(gateway.call_tool, ALL, "demo_slow", slow)
                await replicas[0].entered.wait()  # the only slot is taken
                tg.start_soon(gateway.call_tool, ALL, "demo_slow", slow)
                while gateway.router.bulkheads()["tool:demo/slow"]["queued"] < 1:
                    await anyio.lowlevel.checkpoint()
                replicas[0].gate.set()
        spans = list(exporter.get_finished_spans())
    queues = [s for s in spans if s.name == "gateway.queue"]
    assert len(queues) == 1, [s.name for s in spans]  # the first call found its slot free
    assert dict(queues[0].attributes or {})["mcp_suite.bulkhead.scope"] == "tool:demo/slow"
    calls = [s for s in spans if s.name == "gateway.call"]
    assert span_id(queues[0].parent) in {span_id(c) for c in calls}


@contextmanager
def json_log_lines(logger_name: str) -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLineFormatter())
    logger = logging.getLogger(logger_name)
    logger.addHandler(handler)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)


async def test_a_log_line_written_during_a_call_carries_its_trace_and_span_ids() -> None:
    with captured_spans() as exporter, json_log_lines("mcp_suite.gateway.router") as stream:
        async with demo_gateway(replicas=2, settings=SETTINGS) as (gateway, _, upstreams):
            await upstreams[0].stop()
            for i in range(2):
                await gateway.call_tool(ALL, "demo_echo", {"name": "demo_echo", "arguments": {"text": str(i)}})
        spans = {span_id(s): s for s in exporter.get_finished_spans()}
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    failed = [line for line in lines if line["msg"] == "upstream failed"]
    assert failed, lines
    line = failed[0]
    span = spans[int(line["span_id"], 16)]
    assert span.name == "gateway.call"
    assert format(trace_id(span), "032x") == line["trace_id"]


async def test_without_tracing_a_log_line_has_no_trace_fields() -> None:
    with json_log_lines("mcp_suite.test.plain") as stream:
        logging.getLogger("mcp_suite.test.plain").warning("no span here")
    entry = json.loads(stream.getvalue())
    assert "trace_id" not in entry and "span_id" not in entry


async def test_a_call_from_a_client_that_is_already_tracing_continues_the_clients_trace() -> None:
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    async with serve_http(demo_server(Replica("a"))) as upstream:
        registry = StaticRegistry({"demo": (StaticInstance(url=upstream),)})
        app, _gateway = build_gateway_app(GatewaySettings(), registry)
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
        with captured_spans() as exporter:
            async with anyio.create_task_group() as tg:
                tg.start_soon(server.serve)
                deadline = time.monotonic() + 10
                while not server.started:
                    assert time.monotonic() < deadline, "the gateway's uvicorn did not start within 10 s"
                    await anyio.lowlevel.checkpoint()
                try:
                    async with httpx.AsyncClient() as http:
                        response = await http.post(
                            f"http://127.0.0.1:{port}/mcp",
                            headers={
                                "accept": "application/json, text/event-stream",
                                "content-type": "application/json",
                                "mcp-protocol-version": "2026-07-28",
                                "mcp-method": "tools/call",
                                "mcp-name": "demo_echo",
                            },
                            json={
                                "jsonrpc": "2.0",
                                "id": 1,
                                "method": "tools/call",
                                "params": {
                                    "name": "demo_echo",
                                    "arguments": {"text": "x"},
                                    "_meta": {
                                        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                                        "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "0"},
                                        "io.modelcontextprotocol/clientCapabilities": {},
                                        "traceparent": traceparent,
                                    },
                                },
                            },
                        )
                finally:
                    server.should_exit = True
            spans = list(exporter.get_finished_spans())
    assert "result" in response.json(), response.text
    fast = span_named(spans, "tools/call demo_echo")  # the fast path's SERVER span
    upstream_server = span_named(spans, "tools/call echo")
    assert format(trace_id(fast), "032x") == "0af7651916cd43dd8448eb211c80319c"
    assert span_id(fast.parent) == 0xB7AD6B7169203331
    assert trace_id(upstream_server) == trace_id(fast)


async def test_a_bad_request_is_refused_without_leaving_a_call_in_flight() -> None:
    async with demo_gateway(settings=SETTINGS) as (gateway, _, _), Client(Endpoint(gateway, ALL).server) as client:
        with pytest.raises(MCPError):
            await client.call_tool("demo_no_such_tool", {})
        samples = scrape(gateway)
    assert value(samples, "mcp_gateway_inflight_calls", server="demo") == 0
    assert not any(dict(labels).get("tool") == "no_such_tool" for labels in samples.get("mcp_gateway_calls_total", {}))


async def test_authentication_gets_a_span_under_the_call_it_let_in_and_a_refusal_one_of_its_own(
    tmp_path: Path,
) -> None:
    (tmp_path / "a.txt").write_text("a")
    token = mint_token(JWT_SECRET, subject="alice", roles=["writer"], audience="mcp-suite")
    meta = {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "0"},
        "io.modelcontextprotocol/clientCapabilities": {},
    }
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "filesystem_get_file_info", "arguments": {"path": str(tmp_path / "a.txt")}, "_meta": meta},
    }
    headers = {**MODERN, "mcp-method": "tools/call", "mcp-name": "filesystem_get_file_info"}
    with captured_spans() as exporter:
        async with secured_suite(tmp_path) as suite, httpx.AsyncClient() as http:
            allowed = await http.post(
                f"{suite.gateway}/mcp", json=body, headers={**headers, "authorization": f"Bearer {token}"}
            )
            refused = await http.post(
                f"{suite.gateway}/mcp", json=body, headers={**headers, "authorization": "Bearer x.y.z"}
            )
        spans = list(exporter.get_finished_spans())
    assert "result" in allowed.json(), allowed.text
    assert refused.status_code == 401
    auth = [s for s in spans if s.name == "gateway.auth"]
    assert len(auth) == 2, [s.name for s in spans]
    let_in = next(s for s in auth if s.status.status_code != StatusCode.ERROR)
    turned_away = next(s for s in auth if s.status.status_code == StatusCode.ERROR)
    server = span_named(spans, "tools/call filesystem_get_file_info")
    assert trace_id(let_in) == trace_id(server) and span_id(let_in.parent) == span_id(server)
    assert let_in.attributes is not None and let_in.attributes["enduser.id"] == "alice"
    assert let_in.attributes["mcp_suite.auth.scheme"] == "bearer"
    assert let_in.start_time is not None and server.start_time is not None and let_in.start_time <= server.start_time
    assert turned_away.parent is None  # no call followed it
    assert "well-formed" in (turned_away.status.description or "") or "token" in (turned_away.status.description or "")
