"""Bench what security and tracing cost a gateway call: the same call with all of it off and all of it on, in one run.

One real filesystem server (``mcp-suite serve filesystem --transport http``) and two gateways in front
of it, all child processes started through the CLI:

- **off**: no auth, no roles, no rate limits, audit disabled, no tracing;
- **on**: JWT HS256 auth with a token minted as ``mcp-suite token`` mints it, a role whose allow
  patterns permit the tool, rate limits per principal and per tool too high ever to trigger, the audit
  trail to a JSON-lines file, and tracing to a span file (``MCP_SUITE_TRACE_FILE``).

The load generator (:func:`suite.bench.gateway._load`: the stateless 2026-07-28 wire, pooled
lean HTTP/1.1 client) calls ``filesystem_get_file_info`` at concurrency 1, alternating blocks between the two
gateways (off, on, on, off, off, on, ...) so noise on the machine hits both alike. p50 and p99 are
over all the calls of a side.

The "on" gateway must really be on: before measuring, a call without the token must be refused
``401``, and a call with it must leave an audit line (principal, ``jwt``) and spans; after measuring,
every measured call must have left its audit line and its spans. Otherwise the bench raises
:class:`SecurityNotEnforced` rather than time a gateway with security off.

Target: auth, roles, rate limiting, audit and tracing together add at most 0.5 ms at p50.
"""

from __future__ import annotations

import json
import math
import secrets
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from mesh import runtime
from mesh.security.tokens import mint_token
from mesh.tracing import TRACE_FILE_ENV
from suite.bench.filesystem import percentile
from suite.bench.gateway import HEADERS, META, LoadResult, _child, _load, _wait_tools
from suite.bench.processes import bench_env, cli, free_port

TARGET_MS = 0.5
TOOL = "filesystem_get_file_info"
ROLE = "bench"
SUBJECT = "bench-caller"
AUDIENCE = "mcp-suite"
ISSUER = "mcp-suite-bench"
HIGH = {"rate": 1_000_000, "burst": 1_000_000}
WAIT_SECONDS = 10.0


class SecurityNotEnforced(RuntimeError):
    """The "on" gateway let something through or kept no record: timing it would measure nothing."""


@dataclass(frozen=True)
class Pair:
    """The two running gateways in front of one server, and what the "on" one writes."""

    off_url: str
    on_url: str
    token: str
    audit: Path
    spans: Path
    arguments: dict[str, object]

    @property
    def bearer(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"}


def _gateway_config(path: Path, port: int, server_url: str, security: dict[str, Any]) -> Path:
    base = {
        "gateway": {"port": port, "policy": {"max_concurrent": 256, "queue_limit": 1024}},
        "registry": {"static": {"filesystem": [{"url": server_url}]}},
    }
    path.write_text(yaml.safe_dump({**base, **security}), encoding="utf-8")
    return path


def _untraced(env: dict[str, str]) -> dict[str, str]:
    """The environment without OpenTelemetry exporter settings: only the "on" gateway may trace."""
    return {k: v for k, v in env.items() if not k.startswith("OTEL_")}


@contextmanager
def running_pair(tmp: Path) -> Iterator[Pair]:
    """Start the server and both gateways; yield once each gateway lists the tool (the "on" one to the token)."""
    root = tmp / "root"
    root.mkdir()
    (root / "small.txt").write_text("a small file\n")
    secret = secrets.token_hex(32)
    audit, spans = tmp / "audit.jsonl", tmp / "spans.jsonl"
    server_port, off_port, on_port = free_port(), free_port(), free_port()
    server_url = f"http://127.0.0.1:{server_port}/mcp"
    off_config = _gateway_config(tmp / "off.yaml", off_port, server_url, {"audit": {"enabled": False}})
    on_config = _gateway_config(
        tmp / "on.yaml",
        on_port,
        server_url,
        {
            "auth": {"jwt": {"secret": secret, "audience": AUDIENCE, "issuer": ISSUER}},
            "roles": {ROLE: {"allow": [TOOL, "filesystem_list_*"]}},
            "rate_limits": {"per_principal": HIGH, "per_tool": {"filesystem_*": HIGH}},
            "audit": {"enabled": True, "path": str(audit)},
        },
    )
    # As `mcp-suite token --subject bench-caller --role bench` mints it from on.yaml's auth.jwt.
    token = mint_token(secret, subject=SUBJECT, roles=[ROLE], ttl_seconds=3600, audience=AUDIENCE, issuer=ISSUER)
    on_env = {**_untraced(bench_env(str(tmp / "on-data"))), TRACE_FILE_ENV: str(spans)}
    with ExitStack() as stack:
        stack.enter_context(
            _child(
                cli("serve", "filesystem", str(root), "--transport", "http", "--port", str(server_port)),
                _untraced(bench_env(str(tmp / "server-data"))),
                f"http://127.0.0.1:{server_port}/health",
                "the filesystem server",
            )
        )
        stack.enter_context(
            _child(
                cli("gateway", "--config", str(off_config)),
                _untraced(bench_env(str(tmp / "off-data"))),
                f"http://127.0.0.1:{off_port}/ready",
                'the "off" gateway',
            )
        )
        stack.enter_context(
            _child(
                cli("gateway", "--config", str(on_config)),
                on_env,
                f"http://127.0.0.1:{on_port}/ready",
                'the "on" gateway',
            )
        )
        pair = Pair(
            off_url=f"http://127.0.0.1:{off_port}/mcp",
            on_url=f"http://127.0.0.1:{on_port}/mcp",
            token=token,
            audit=audit,
            spans=spans,
            arguments={"path": str(root / "small.txt")},
        )
        _wait_tools(f"http://127.0.0.1:{off_port}/mcp/v1/tools/list", TOOL)
        _wait_tools(f"http://127.0.0.1:{on_port}/mcp/v1/tools/list", TOOL, headers=pair.bearer)
        yield pair


def _line_count(path: Path) -> int:
    try:
        with path.open("rb") as handle:
            return sum(1 for _ in handle)
    except FileNotFoundError:
        return 0


def _wait_for_lines(path: Path, at_least: int, wait_seconds: float) -> int:
    """The file's line count once it reaches ``at_least``, or what it holds when ``wait_seconds`` ran out
    (spans are written as they end, which can be just after the response left)."""
    end = time.monotonic() + wait_seconds
    count = _line_count(path)
    while count < at_least and time.monotonic() < end:
        time.sleep(0.05)
        count = _line_count(path)
    return count


def _call(url: str, arguments: dict[str, object], headers: dict[str, str] | None = None) -> httpx.Response:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": TOOL, "arguments": arguments, "_meta": META},
    }
    return httpx.post(url, json=body, headers={**HEADERS, "mcp-name": TOOL, **(headers or {})}, timeout=10.0)


def check_enforced(pair: Pair, wait_seconds: float = WAIT_SECONDS) -> None:
    """Raise :class:`SecurityNotEnforced` unless the "on" gateway refuses a caller without the token,
    answers one with it, and records that call in the audit file and the span file."""
    problems: list[str] = []
    anonymous = _call(pair.on_url, pair.arguments)
    if anonymous.status_code != 401:
        problems.append(f"a call without the token got HTTP {anonymous.status_code}, not 401")
    audited, traced = _line_count(pair.audit), _line_count(pair.spans)
    allowed = _call(pair.on_url, pair.arguments, pair.bearer)
    if allowed.status_code != 200 or '"error"' in allowed.text or '"isError":true' in allowed.text:
        problems.append(f"a call with the token failed: HTTP {allowed.status_code} {allowed.text[:200]}")
    if _wait_for_lines(pair.audit, audited + 1, wait_seconds) <= audited:
        problems.append(f"the audit file {pair.audit} got no line for the call")
    else:
        last = json.loads(pair.audit.read_text().splitlines()[-1])
        if (last.get("principal"), last.get("auth_method"), last.get("tool")) != (SUBJECT, "jwt", TOOL):
            problems.append(f"the last audit line is not the token's call: {last}")
    if _wait_for_lines(pair.spans, traced + 1, wait_seconds) <= traced:
        problems.append(f"the trace file {pair.spans} got no span for the call")
    if problems:
        raise SecurityNotEnforced('the "on" gateway is not secured and traced: ' + "; ".join(problems))


def check_recorded(
    pair: Pair, audited_before: int, traced_before: int, calls: int, wait_seconds: float = WAIT_SECONDS
) -> None:
    """Raise :class:`SecurityNotEnforced` unless the ``calls`` since the counts were taken left an audit line
    and a span each (at least: warm-up calls add theirs)."""
    audited = _wait_for_lines(pair.audit, audited_before + calls, wait_seconds) - audited_before
    traced = _wait_for_lines(pair.spans, traced_before + calls, wait_seconds) - traced_before
    if audited < calls or traced < calls:
        raise SecurityNotEnforced(
            f'the "on" gateway answered {calls} calls but wrote {audited} audit lines and {traced} spans for them'
        )


@dataclass(frozen=True)
class Comparison:
    """Both sides' calls, block by block, in the order they ran."""

    off: list[LoadResult]
    on: list[LoadResult]

    def side(self, label: str) -> LoadResult:
        blocks = self.off if label == "off" else self.on
        latencies = [ms for block in blocks for ms in block.latencies_ms]
        return LoadResult(
            label,
            1,
            len(latencies),
            sum(block.seconds for block in blocks),
            percentile(latencies, 0.5) if latencies else math.nan,
            percentile(latencies, 0.99) if latencies else math.nan,
            sum(block.errors for block in blocks),
            tuple(latencies),
        )

    def measured_on(self) -> int:
        """The calls timed on the "on" gateway (each block's warm-up calls come on top)."""
        return sum(block.calls for block in self.on)

    def per_block_added_ms(self) -> list[float]:
        return [on.p50_ms - off.p50_ms for off, on in zip(self.off, self.on, strict=True)]


def measure(pair: Pair, rounds: int, calls_per_block: int) -> Comparison:
    """``rounds`` blocks per side at concurrency 1, alternating which side goes first each round."""
    off: list[LoadResult] = []
    on: list[LoadResult] = []
    sides = (("off", pair.off_url, None, off), ("on", pair.on_url, pair.bearer, on))
    for round_index in range(rounds):
        for label, url, headers, results in sides if round_index % 2 == 0 else sides[::-1]:
            results.append(runtime.run("auto", _load, label, url, TOOL, pair.arguments, 1, calls_per_block, headers))
    return Comparison(off, on)


def bench_security(iterations: int) -> bool:
    """Print off/on figures and the p50 difference; True when it is within the target and nothing failed."""
    calls = max(200, iterations * 4)
    rounds = 8
    per_block = math.ceil(calls / rounds)
    with tempfile.TemporaryDirectory(prefix="mcp-suite-bench-security-") as tmp, running_pair(Path(tmp)) as pair:
        check_enforced(pair)
        audited, traced = _line_count(pair.audit), _line_count(pair.spans)
        comparison = measure(pair, rounds, per_block)
        check_recorded(pair, audited, traced, comparison.measured_on())
    off, on = comparison.side("off"), comparison.side("on")
    print(off.line())
    print(on.line())
    added = on.p50_ms - off.p50_ms
    blocks = " ".join(f"{ms:+.3f}" for ms in comparison.per_block_added_ms())
    print(f"per-block p50 difference (ms, {rounds} blocks a side, interleaved): {blocks}")
    print(f"p99 difference: {on.p99_ms - off.p99_ms:+.3f} ms")
    met = added <= TARGET_MS
    print(
        f"auth, roles, rate limits, audit and tracing add {added:.3f} ms at p50, c=1 "
        f"(target <= {TARGET_MS} ms): {'met' if met else 'MISSED'}"
    )
    return met and off.errors == 0 and on.errors == 0


def run(iterations: int) -> bool:
    """Print the security rows; ``True`` when the target was met (raises if the "on" gateway is not secured)."""
    return bench_security(iterations)
