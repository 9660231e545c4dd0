"""The fast path answers a stateless tool call exactly as the SDK endpoint would, and hands over everything else.

Each parity test sends the same raw HTTP request to two apps of the same server: one built with the fast
path, one without (the SDK's transport alone), and compares status, headers and body bytes. A spy on the
SDK's session manager tells which path answered.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS
from pydantic import BaseModel, SecretStr
from starlette.types import Receive, Scope, Send

from mesh import tracing
from mesh.config import Settings
from mesh.security.settings import AuthSettings
from mesh.security.upstream_auth import UPSTREAM_HEADER
from servers.database.server import DEFINITION as DATABASE
from servers.runtime import fastpath
from servers.runtime.definition import ServerDefinition
from servers.runtime.serve import build_http_app
from suite.settings import SuiteSettings
from tests.servers.database.support import PG_URL, connection, settings_with
from tests.support.observability import captured_spans, parse_exposition, value
from tests.support.upstreams import serve_app

pytestmark = pytest.mark.anyio

META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "fastpath-test", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {},
}
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


class Row(BaseModel):
    key: int
    label: str
    note: str | None = None


@dataclass
class Gate:
    """Lets a test hold the ``slow`` tool until it has seen what it waits for."""

    started: anyio.Event
    release: anyio.Event
    cancelled: anyio.Event


def sample_builder(gate: Gate | None = None) -> Callable[[Settings], MCPServer[Any]]:
    def build(_settings: Settings) -> MCPServer[Any]:
        server: MCPServer[Any] = MCPServer("sample", version="1.2.3")

        @server.tool()
        def lookup(key: int, label: str = "row") -> Row:
            """A structured answer with a null field."""
            return Row(key=key, label=f"{label} {key} \u2013 ü")

        @server.tool()
        def refuse() -> str:
            raise ToolError("refused: call lookup instead")

        @server.tool()
        def crash() -> str:
            raise RuntimeError("internal detail that must stay on the server")

        @server.tool()
        def protocol_error() -> str:
            raise MCPError(code=INVALID_PARAMS, message="no such thing", data={"hint": "try lookup"})

        @server.tool()
        async def traced(key: int) -> int:
            with tracing.backend_span("postgresql", "SELECT"):
                return key

        @server.tool()
        async def with_context(ctx: Context[Any, Any]) -> str:
            return f"request {ctx.request_id}"

        @server.tool()
        async def slow() -> str:
            assert gate is not None
            gate.started.set()
            try:
                await gate.release.wait()
            except BaseException:
                gate.cancelled.set()
                raise
            return "done"

        return server

    return build


@dataclass
class Served:
    """One app and how many requests reached the SDK's transport."""

    http: httpx.AsyncClient
    server: MCPServer[Any]
    sdk_requests: int = 0


@asynccontextmanager
async def serving(
    definition: ServerDefinition, settings: Settings, *, fast_path: bool, host: str = "127.0.0.1"
) -> AsyncIterator[Served]:
    server = definition.build(settings)
    app = build_http_app(definition, server, settings, host=host, fast_path=fast_path)
    manager = server.session_manager
    inner = manager.asgi_app
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8500") as http:
            served = Served(http, server)

            async def counted(scope: Scope, receive: Receive, send: Send) -> None:
                served.sdk_requests += 1
                await inner(scope, receive, send)

            manager.asgi_app = counted  # type: ignore[assignment]
            yield served


@asynccontextmanager
async def both(definition: ServerDefinition, settings: Settings) -> AsyncIterator[tuple[Served, Served]]:
    async with (
        serving(definition, settings, fast_path=True) as fast,
        serving(definition, settings, fast_path=False) as sdk,
    ):
        yield fast, sdk


def sample(gate: Gate | None = None) -> ServerDefinition:
    return ServerDefinition(name="sample", build=sample_builder(gate))


def headers_for(tool: str, **extra: str) -> dict[str, str]:
    return {
        "accept": "application/json, text/event-stream",
        "content-type": "application/json",
        "mcp-protocol-version": "2026-07-28",
        "mcp-method": "tools/call",
        "mcp-name": tool,
        **extra,
    }


def call_body(tool: str, arguments: dict[str, Any] | None = None, *, request_id: Any = 7, **meta: Any) -> bytes:
    params: dict[str, Any] = {"name": tool, "_meta": {**META, **meta}}
    if arguments is not None:
        params["arguments"] = arguments
    return json.dumps({"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}).encode()


@dataclass(frozen=True)
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


async def post(served: Served, body: bytes, headers: dict[str, str]) -> Answer:
    response = await served.http.post("/mcp", content=body, headers=headers)
    return Answer(response.status_code, list(response.headers.multi_items()), response.content)


async def parity(pair: tuple[Served, Served], body: bytes, headers: dict[str, str]) -> Answer:
    """Send the same request to both apps; assert the answers are identical; return the fast app's."""
    fast, sdk = pair
    answered = await post(fast, body, headers)
    expected = await post(sdk, body, headers)
    assert answered == expected
    return answered


async def results_alike(
    fast: Served,
    sdk: Served,
    calls: Sequence[tuple[str, dict[str, Any]]],
    extra_headers: dict[str, str],
    masked: Callable[[Answer], Any],
) -> list[Any]:
    """Each call to both apps in turn; the answers alike once ``masked``; the fast app's results.

    Every call must have been served on the fast path, and every one reached the SDK's transport on the other.
    """
    results = []
    for tool, arguments in calls:
        body, headers = call_body(tool, arguments), headers_for(tool, **extra_headers)
        answered, expected = await post(fast, body, headers), await post(sdk, body, headers)
        assert masked(answered) == masked(expected), tool
        results.append(answered.json()["result"])
    assert fast.sdk_requests == 0 and sdk.sdk_requests == len(calls)
    return results


async def test_a_structured_call_is_answered_on_the_fast_path_byte_for_byte_as_the_sdk_does() -> None:
    async with both(sample(), SuiteSettings()) as pair:
        answer = await parity(pair, call_body("lookup", {"key": 42}), headers_for("lookup"))
        assert pair[0].sdk_requests == 0 and pair[1].sdk_requests == 1
    result = answer.json()["result"]
    assert answer.status == 200 and answer.json()["id"] == 7
    assert result["structuredContent"] == {"key": 42, "label": "row 42 \u2013 ü", "note": None}
    assert result["isError"] is False and result["resultType"] == "complete"
    assert result["_meta"]["io.modelcontextprotocol/serverInfo"]["version"] == "1.2.3"
    assert b"\\u2013" in answer.body  # ASCII escapes, as the SDK writes them


async def test_a_string_id_and_absent_arguments_keep_parity() -> None:
    async with both(sample(), SuiteSettings()) as pair:
        answer = await parity(pair, call_body("refuse", request_id="abc"), headers_for("refuse"))
        assert pair[0].sdk_requests == 0
    assert answer.json()["id"] == "abc"


@pytest.mark.parametrize(
    ("tool", "arguments", "text"),
    [
        ("refuse", {}, "Error executing tool refuse: refused: call lookup instead"),
        ("crash", {}, "Error executing tool crash"),
        ("lookup", {"key": "not a number"}, "validation error"),
        ("lookup", {}, "Field required"),
    ],
)
async def test_a_failing_tool_or_bad_arguments_give_the_sdks_error_result(
    tool: str, arguments: dict[str, Any], text: str
) -> None:
    async with both(sample(), SuiteSettings()) as pair:
        answer = await parity(pair, call_body(tool, arguments), headers_for(tool))
        assert pair[0].sdk_requests == 0
    result = answer.json()["result"]
    assert result["isError"] is True
    assert text in result["content"][0]["text"]
    assert "internal detail" not in answer.body.decode()


async def test_a_protocol_error_from_a_tool_is_the_sdks_json_rpc_error_with_its_status() -> None:
    async with both(sample(), SuiteSettings()) as pair:
        answer = await parity(pair, call_body("protocol_error", {}), headers_for("protocol_error"))
        assert pair[0].sdk_requests == 0
    assert answer.status == 400
    assert answer.json()["error"] == {
        "code": INVALID_PARAMS,
        "message": "no such thing",
        "data": {"hint": "try lookup"},
    }


@pytest.mark.parametrize(
    ("case", "body", "headers"),
    [
        ("unknown tool", call_body("nope", {}), headers_for("nope")),
        ("needs Context", call_body("with_context", {}), headers_for("with_context")),
        ("progress token", call_body("lookup", {"key": 1}, progressToken="p1"), headers_for("lookup")),
        ("parse error", b'{"jsonrpc": "2.0", "id": 1, "method": ', headers_for("lookup")),
        ("batch", b"[" + call_body("lookup", {"key": 1}) + b"]", headers_for("lookup")),
        (
            "arguments not an object",
            call_body("lookup").replace(b'"_meta"', b'"arguments": [1], "_meta"'),
            headers_for("lookup"),
        ),
        ("no mcp-name header", call_body("lookup", {"key": 1}), {**headers_for("lookup"), "mcp-name": ""}),
        ("mcp-name mismatch", call_body("lookup", {"key": 1}), headers_for("refuse")),
        (
            "no capabilities",
            call_body("lookup", {"key": 1}).replace(b'"io.modelcontextprotocol/clientCapabilities": {}', b'"x": 1'),
            headers_for("lookup"),
        ),
        (
            "bad clientInfo",
            call_body("lookup", {"key": 1}).replace(b'"version": "1"', b'"version": 1'),
            headers_for("lookup"),
        ),
        (
            "plain-text content type",
            call_body("lookup", {"key": 1}),
            headers_for("lookup", **{"content-type": "text/plain"}),
        ),
        ("JSON-only accept", call_body("lookup", {"key": 1}), headers_for("lookup", accept="application/json")),
        ("session header", call_body("lookup", {"key": 1}), headers_for("lookup", **{"mcp-session-id": "abc"})),
        ("Mcp-Param header", call_body("lookup", {"key": 1}), headers_for("lookup", **{"mcp-param-key": "1"})),
        (
            "requestState",
            call_body("lookup", {"key": 1}).replace(b'"_meta"', b'"requestState": "x", "_meta"'),
            headers_for("lookup"),
        ),
        ("foreign Host", call_body("lookup", {"key": 1}), headers_for("lookup", host="evil.example:8500")),
        ("foreign Origin", call_body("lookup", {"key": 1}), headers_for("lookup", origin="http://evil.example")),
    ],
)
async def test_anything_the_fast_path_does_not_own_is_answered_by_the_sdk_unchanged(
    case: str, body: bytes, headers: dict[str, str]
) -> None:
    async with both(sample(), SuiteSettings()) as pair:
        answer = await parity(pair, body, {k: v for k, v in headers.items() if v})
        # A body that is no JSON-RPC message is the request guard's to answer, before the SDK, on both apps.
        assert pair[0].sdk_requests == (0 if case in {"parse error", "batch"} else 1), case
    if case == "foreign Host":
        assert answer.status == 421
    if case == "needs Context":
        assert answer.json()["result"]["content"][0]["text"] == "request 7"


async def test_an_oversized_body_gets_the_servers_too_large_error_on_both_paths() -> None:
    body = call_body("lookup", {"key": 1, "label": "x" * (4 * 1024 * 1024)})
    async with both(sample(), SuiteSettings()) as pair:
        answer = await parity(pair, body, headers_for("lookup"))
        assert pair[0].sdk_requests == 0
    assert answer.status == 413
    assert answer.json()["error"]["message"].startswith("too_large: ")


async def test_without_the_upstream_secret_a_fast_path_call_is_refused_and_runs_nothing() -> None:
    settings = SuiteSettings(auth=AuthSettings(upstream_secret=SecretStr("u" * 32)))
    async with serving(sample(), settings, fast_path=True) as fast:
        before = parse_exposition((await fast.http.get("/metrics")).text)
        refused = await post(fast, call_body("lookup", {"key": 1}), headers_for("lookup"))
        allowed = await post(
            fast, call_body("lookup", {"key": 1}), headers_for("lookup", **{UPSTREAM_HEADER: "u" * 32})
        )
        after = parse_exposition((await fast.http.get("/metrics")).text)
        assert fast.sdk_requests == 0
    assert refused.status == 401 and refused.json()["error"]["code"] == "unauthorized"
    assert allowed.status == 200 and allowed.json()["result"]["structuredContent"]["key"] == 1
    calls = "mcp_server_calls_total"
    assert value(after, calls, tool="lookup") - value(before, calls, tool="lookup") == 1


async def test_fast_path_calls_are_counted_in_the_servers_metrics_with_the_sdk_labels() -> None:
    async with both(sample(), SuiteSettings()) as pair:
        for served in pair:
            await post(served, call_body("lookup", {"key": 1}), headers_for("lookup"))
            await post(served, call_body("lookup", {"key": 2}), headers_for("lookup"))
            await post(served, call_body("refuse", {}), headers_for("refuse"))
            await post(served, call_body("protocol_error", {}), headers_for("protocol_error"))
        fast, sdk = [parse_exposition((await served.http.get("/metrics")).text) for served in pair]
        assert pair[0].sdk_requests == 0
    calls = "mcp_server_calls_total"
    for outcome, tool, expected in [("ok", "lookup", 2), ("tool_error", "refuse", 1), ("error", "protocol_error", 1)]:
        assert value(fast, calls, server="sample", tool=tool, outcome=outcome) == expected
        assert value(sdk, calls, server="sample", tool=tool, outcome=outcome) == expected
    assert value(fast, "mcp_server_call_duration_seconds_count", server="sample", tool="lookup") == 2


async def test_a_fast_path_call_opens_a_server_span_that_continues_the_callers_trace() -> None:
    with captured_spans() as exporter:
        async with serving(sample(), SuiteSettings(), fast_path=True) as fast:
            answer = await post(fast, call_body("traced", {"key": 3}, traceparent=TRACEPARENT), headers_for("traced"))
            await post(fast, call_body("refuse", {}), headers_for("refuse"))
            assert fast.sdk_requests == 0
        spans = list(exporter.get_finished_spans())
    assert answer.json()["result"]["structuredContent"] == {"result": 3}
    (served,) = [s for s in spans if s.name == "tools/call traced"]
    (backend,) = [s for s in spans if s.name == "postgresql SELECT"]
    (refused,) = [s for s in spans if s.name == "tools/call refuse"]
    assert served.kind.name == "SERVER" and served.parent is not None
    assert f"{served.context.trace_id:032x}" == TRACEPARENT.split("-")[1]
    assert f"{served.parent.span_id:016x}" == TRACEPARENT.split("-")[2]
    assert backend.parent is not None and backend.parent.span_id == served.context.span_id
    assert served.attributes is not None and served.attributes["gen_ai.tool.name"] == "traced"
    assert served.attributes["mcp.protocol.version"] == "2026-07-28"
    assert refused.status.status_code.name == "ERROR"
    assert refused.attributes is not None and refused.attributes["error.type"] == "tool_error"


async def test_a_server_with_middleware_of_its_own_keeps_every_call_on_the_sdk_path() -> None:
    async def passthrough(ctx: Any, call_next: Any) -> Any:
        return await call_next(ctx)

    def build(settings: Settings) -> MCPServer[Any]:
        server = sample_builder()(settings)
        server.middleware.append(passthrough)
        return server

    definition = ServerDefinition(name="sample", build=build)
    async with both(definition, SuiteSettings()) as pair:
        await parity(pair, call_body("lookup", {"key": 5}), headers_for("lookup"))
        assert pair[0].sdk_requests == 1


@pytest.fixture
async def pg_table() -> AsyncIterator[str]:
    schema = f"mcp_fastpath_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(PG_URL)
    try:
        await conn.execute(
            f"CREATE SCHEMA {schema}; CREATE TABLE {schema}.kv (id integer PRIMARY KEY, name text);"
            f"INSERT INTO {schema}.kv VALUES (1, 'one'), (2, NULL), (3, 'drei \u2013 ß')"
        )
        yield f"{schema}.kv"
    finally:
        await conn.execute(f"DROP SCHEMA {schema} CASCADE")
        await conn.close()


def masked(answer: Answer) -> tuple[int, list[tuple[str, str]], bytes]:
    """The answer without what differs run to run: the query's elapsed time (and so the length)."""
    body = re.sub(rb'(\\?"elapsed_ms\\?": ?)[0-9.e-]+', rb"\1T", answer.body)
    return answer.status, [(k, v) for k, v in answer.headers if k != "content-length"], body


async def test_the_database_servers_sql_query_over_postgresql_matches_the_sdk(tmp_path: Path, pg_table: str) -> None:
    settings = settings_with(tmp_path / "data", bench=connection(PG_URL))
    arguments = {"sql": f"SELECT id, name FROM {pg_table} WHERE id = ANY($1) ORDER BY id", "params": [[1, 2, 3]]}
    async with both(DATABASE, settings) as (fast, sdk):
        answered = await post(fast, call_body("sql_query", arguments), headers_for("sql_query"))
        expected = await post(sdk, call_body("sql_query", arguments), headers_for("sql_query"))
        refused = [
            await post(served, call_body("sql_query", {"sql": f"DELETE FROM {pg_table}"}), headers_for("sql_query"))
            for served in (fast, sdk)
        ]
        assert fast.sdk_requests == 0
    assert masked(answered) == masked(expected)
    assert answered.json()["result"]["structuredContent"]["rows"] == [[1, "one"], [2, None], [3, "drei \u2013 ß"]]
    assert refused[0] == refused[1] and refused[0].json()["result"]["isError"] is True


async def test_the_database_servers_backend_spans_nest_under_the_fast_path_server_span(tmp_path: Path) -> None:
    settings = settings_with(tmp_path / "data")  # no connection configured: the SQLite workspace
    with captured_spans() as exporter:
        async with serving(DATABASE, settings, fast_path=True) as fast:
            body = call_body("sql_query", {"sql": "SELECT 1 AS one"}, traceparent=TRACEPARENT)
            answer = await post(fast, body, headers_for("sql_query"))
            assert fast.sdk_requests == 0
        spans = list(exporter.get_finished_spans())
    assert answer.json()["result"]["structuredContent"]["rows"] == [[1]]
    (served,) = [s for s in spans if s.name == "tools/call sql_query"]
    backend = [s for s in spans if s.attributes is not None and s.attributes.get("db.system") == "sqlite"]
    assert backend and all(s.parent is not None and s.parent.span_id == served.context.span_id for s in backend)
    assert f"{served.context.trace_id:032x}" == TRACEPARENT.split("-")[1]


# -- a call that outlives the SDK's SSE deferral window ------------------------------------------


def new_gate() -> Gate:
    return Gate(anyio.Event(), anyio.Event(), anyio.Event())


async def slow_call_stream(fast_path: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[str, list[str]]:
    """Call ``slow`` past the (shortened) window; release it once the first ping arrived; return type and lines."""
    monkeypatch.setattr(fastpath, "SSE_PING_INTERVAL", 0.05)
    monkeypatch.setattr("mcp.server._streamable_http_modern._SSE_PING_INTERVAL", 0.05)
    gate = new_gate()
    definition = sample(gate)
    app = build_http_app(definition, definition.build(SuiteSettings()), SuiteSettings(), fast_path=fast_path)
    lines: list[str] = []
    async with serve_app(app) as base, httpx.AsyncClient(base_url=base) as http:
        request = http.build_request("POST", "/mcp", content=call_body("slow", {}), headers=headers_for("slow"))
        with anyio.fail_after(10):
            response = await http.send(request, stream=True)
            async for line in response.aiter_lines():
                lines.append(line)
                if line == ": ping":
                    gate.release.set()
            await response.aclose()
    return response.headers["content-type"], lines


async def test_a_call_outliving_the_window_commits_to_sse_with_pings_as_the_sdk_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fast_type, fast_lines = await slow_call_stream(True, monkeypatch)
    sdk_type, sdk_lines = await slow_call_stream(False, monkeypatch)
    assert fast_type == sdk_type == "text/event-stream"

    def final(lines: list[str]) -> Any:
        (data,) = [line for line in lines if line.startswith("data: ")]
        return json.loads(data.removeprefix("data: "))

    assert fast_lines[0] == sdk_lines[0] == ": ping"
    assert "event: message" in fast_lines
    assert final(fast_lines) == final(sdk_lines)
    assert final(fast_lines)["result"]["content"][0]["text"] == "done"


async def test_a_client_leaving_a_long_fast_path_call_cancels_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fastpath, "SSE_PING_INTERVAL", 0.05)
    gate = new_gate()
    definition = sample(gate)
    app = build_http_app(definition, definition.build(SuiteSettings()), SuiteSettings())
    async with serve_app(app) as base, httpx.AsyncClient(base_url=base) as http:
        request = http.build_request("POST", "/mcp", content=call_body("slow", {}), headers=headers_for("slow"))
        with anyio.fail_after(10):
            response = await http.send(request, stream=True)
            async for line in response.aiter_lines():
                if line == ": ping":
                    break
            await response.aclose()  # the client goes away while the tool still waits
            await gate.cancelled.wait()
    assert gate.started.is_set() and not gate.release.is_set()


def _scope_for(tool: str) -> Scope:
    headers = {**headers_for(tool), "host": "127.0.0.1:8000"}
    return {
        "type": "http",
        "method": "POST",
        "path": "/mcp",
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
        "query_string": b"",
    }


async def _committed_slow_call(
    monkeypatch: pytest.MonkeyPatch, gate: Gate, client_leaves: anyio.Event
) -> tuple[asyncio.Task[None], list[Any], anyio.Event]:
    """The ``slow`` call straight through the middleware, run until its response has committed to SSE."""
    monkeypatch.setattr(fastpath, "SSE_PING_INTERVAL", 0.05)
    definition = sample(gate)
    server = definition.build(SuiteSettings())
    build_http_app(definition, server, SuiteSettings())  # creates the session manager the fast path reads

    async def not_here(_scope: Scope, _receive: Receive, _send: Send) -> None:
        raise AssertionError("the call should take the fast path")

    middleware = fastpath.FastToolCallMiddleware(not_here, server=server)
    sent: list[Any] = []
    pinged = anyio.Event()
    body = [{"type": "http.request", "body": call_body("slow", {}), "more_body": False}]

    async def receive() -> Any:
        if body:
            return body.pop()
        await client_leaves.wait()
        return {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        sent.append(message)
        if message.get("body") == b": ping\r\n\r\n":
            pinged.set()

    task = asyncio.get_running_loop().create_task(middleware(_scope_for("slow"), receive, send))
    with anyio.fail_after(10):
        await pinged.wait()
    assert gate.started.is_set()
    return task, sent, pinged


async def test_a_client_leaving_a_committed_call_cancels_the_tool_and_ends_the_request_quietly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gate, leaves = new_gate(), anyio.Event()
    task, sent, _ = await _committed_slow_call(monkeypatch, gate, leaves)
    leaves.set()
    with anyio.fail_after(10):
        await task  # returns: the cancellation was the fast path's own, for a client that left
    assert gate.cancelled.is_set() and not task.cancelled()
    assert not any(b"event: message" in message.get("body", b"") for message in sent)


async def test_a_shutdown_cancelling_a_committed_call_still_cancels_the_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gate, leaves = new_gate(), anyio.Event()
    task, _, _ = await _committed_slow_call(monkeypatch, gate, leaves)
    task.cancel()  # what the server does to requests still running past its grace period
    with anyio.fail_after(10), pytest.raises(asyncio.CancelledError):
        await task
    assert gate.cancelled.is_set() and task.cancelled()


async def test_a_foreign_host_after_allowed_calls_is_still_refused_by_the_sdk() -> None:
    async with both(sample(), SuiteSettings()) as pair:
        for _ in range(2):
            await parity(pair, call_body("lookup", {"key": 1}), headers_for("lookup"))
        refused = await parity(pair, call_body("lookup", {"key": 1}), headers_for("lookup", host="evil.example:8500"))
        assert pair[0].sdk_requests == 1
    assert refused.status == 421
