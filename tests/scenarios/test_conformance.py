"""The official MCP conformance suite, in both protocol eras, on every path a client can take.

Paths: the fixture server directly; the fixture through the gateway's ``/servers/search/mcp`` (the
fixture stands in for the ``search`` server); through ``/mcp``, where its names carry the ``search_``
prefix; and the suite's own filesystem and database servers as ``mcp-suite serve`` runs them.
The expected outcome of every scenario on every path is kept in :data:`EXPECTED`, below, with the
reason for each one that does not pass; docs/conformance.md is the same table for readers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import anyio
import pytest

from gateway.door.http_app import build_gateway_app
from gateway.settings import GatewaySettings
from mesh.config import StaticInstance
from mesh.registry import StaticRegistry
from servers.database.server import DEFINITION as DATABASE
from servers.filesystem.server import DEFINITION as FILESYSTEM
from servers.runtime.serve import build_http_app
from tests.servers.database.support import PG_URL, connection, settings_with
from tests.servers.filesystem.support import settings_for
from tests.support.conformance_fixture import conformance_server
from tests.support.conformance_suite import ERAS, Outcome, failures_of, run_conformance, warnings_of
from tests.support.upstreams import HttpUpstream, serve_app

pytestmark = [pytest.mark.anyio, pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning")]

FIXTURE_AS = "search"  # the gateway serves only the suite's server names; the fixture takes one

# Scenarios of the tasks extension (io.modelcontextprotocol/tasks): run with 2026-07-28 but not scored
# for it, and not in the SDK 2.3 runtime, so no server here implements them.
EXTENSION = "tasks-"

# Scenarios that call the fixture's tools or prompts by name: through /mcp those are search_<name>,
# and the suite's own servers have other tools (an unknown tool there is a tool error, which the
# simple-text and error scenarios cannot tell from their own tool's answer, so those two pass).
BY_FIXTURE_NAME = frozenset(
    {
        "elicitation-sep1034-defaults",
        "elicitation-sep1330-enums",
        "json-schema-2020-12",
        "prompts-get-embedded-resource",
        "prompts-get-simple",
        "prompts-get-with-args",
        "prompts-get-with-image",
        "tools-call-audio",
        "tools-call-elicitation",
        "tools-call-embedded-resource",
        "tools-call-image",
        "tools-call-mixed-content",
        "tools-call-sampling",
        "tools-call-with-logging",
        "tools-call-with-progress",
        "input-required-result-basic-elicitation",
        "input-required-result-basic-list-roots",
        "input-required-result-basic-sampling",
        "input-required-result-capability-check",
        "input-required-result-multi-round",
        "input-required-result-multiple-input-requests",
        "input-required-result-non-tool-request",
        "input-required-result-request-state",
        "input-required-result-result-type",
        "input-required-result-tampered-state",
        "server-stateless",
    }
)
PREFIXED = BY_FIXTURE_NAME | {"tools-call-simple-text", "tools-call-error"}
FIXTURE_RESOURCES = frozenset({"resources-read-binary", "resources-read-text", "resources-templates-read"})

# The suite's own servers: what they do not offer, scenario by scenario (the same for both).
OWN_SERVER_GAPS: dict[str, str] = {
    "completion-complete": "asks completions of the fixture's prompt; an unknown prompt is invalid params (-32602)",
    "server-sse-polling": "calls the fixture's test_reconnection tool",
    "http-custom-header-server-validation": "the server has no tool with an x-mcp-header parameter",
}

# Gateway paths: what passes directly and does not through the gateway, with the reason.
GATEWAY_GAPS: dict[tuple[str, str], str] = {}


def _expected(path: str, era: str) -> dict[str, tuple[Outcome, str]]:
    table: dict[str, tuple[Outcome, str]] = {}
    if path in ("servers", "mcp"):
        table |= {name: ("fail", reason) for (gap_era, name), reason in GATEWAY_GAPS.items() if gap_era == era}
    if path == "mcp":
        table |= {
            name: ("fail", "calls the fixture's tools or prompts by their names, not search_<name>")
            for name in PREFIXED
        }
    if path in ("filesystem", "database"):
        table |= {
            name: ("fail", "calls the fixture's tools or prompts, which this server has not")
            for name in BY_FIXTURE_NAME
        }
        table |= {name: ("fail", "reads the fixture's test:// resources") for name in FIXTURE_RESOURCES}
        table |= {name: ("fail", reason) for name, reason in OWN_SERVER_GAPS.items()}
    return table


# (path, era) -> scenario -> (outcome, reason). A scenario not named passes.
EXPECTED: dict[tuple[str, str], dict[str, tuple[Outcome, str]]] = {
    (path, era): _expected(path, era)
    for path in ("direct", "servers", "mcp", "filesystem", "database")
    for era in ("2025-11-25", "2026-07-28")
}


@asynccontextmanager
async def fixture_direct(_tmp: Path) -> AsyncIterator[str]:
    upstream = HttpUpstream(conformance_server())
    async with anyio.create_task_group() as tg:
        await upstream.start(tg)
        try:
            yield upstream.url
        finally:
            await upstream.stop()


@asynccontextmanager
async def fixture_gateway(path: str) -> AsyncIterator[str]:
    upstream = HttpUpstream(conformance_server())
    async with anyio.create_task_group() as tg:
        await upstream.start(tg)
        registry = StaticRegistry({FIXTURE_AS: (StaticInstance(url=upstream.url),)})
        app, _gateway = build_gateway_app(GatewaySettings(), registry)
        try:
            async with serve_app(app) as base:
                yield f"{base}{path}"
        finally:
            await upstream.stop()


@asynccontextmanager
async def via_servers(_tmp: Path) -> AsyncIterator[str]:
    async with fixture_gateway(f"/servers/{FIXTURE_AS}/mcp") as url:
        yield url


@asynccontextmanager
async def via_mcp(_tmp: Path) -> AsyncIterator[str]:
    async with fixture_gateway("/mcp") as url:
        yield url


@asynccontextmanager
async def filesystem(tmp: Path) -> AsyncIterator[str]:
    root = tmp / "root"
    root.mkdir()
    (root / "notes.txt").write_text("alpha\n", encoding="utf-8")
    settings = settings_for(tmp / "data", (root, "rw"))
    async with serve_app(build_http_app(FILESYSTEM, FILESYSTEM.build(settings), settings)) as base:
        yield f"{base}/mcp"


@asynccontextmanager
async def database(tmp: Path) -> AsyncIterator[str]:
    settings = settings_with(tmp, pg=connection(PG_URL))
    async with serve_app(build_http_app(DATABASE, DATABASE.build(settings), settings)) as base:
        yield f"{base}/mcp"


PATHS: dict[str, Callable[[Path], AbstractAsyncContextManager[str]]] = {
    "direct": fixture_direct,
    "servers": via_servers,
    "mcp": via_mcp,
    "filesystem": filesystem,
    "database": database,
}


async def measure(path: str, tmp: Path) -> dict[str, dict[str, Outcome]]:
    """Both eras' outcomes on ``path``, the eras run side by side against one server."""
    results: dict[str, dict[str, Outcome]] = {}
    tmp.mkdir(parents=True, exist_ok=True)
    async with PATHS[path](tmp) as url:

        async def one(era: str) -> None:
            results[era] = await run_conformance(url, era, tmp / f"out-{era}")

        async with anyio.create_task_group() as tg:
            for era in ERAS:
                tg.start_soon(one, era)
    return results


def unexpected(path: str, era: str, outcomes: dict[str, Outcome], out: Path) -> list[str]:
    expected = EXPECTED[(path, era)]
    lines = []
    for scenario, outcome in sorted(outcomes.items()):
        if scenario.startswith(EXTENSION):
            continue
        want = expected.get(scenario, ("pass", ""))[0]
        if outcome != want:
            detail = "; ".join(failures_of(out, scenario)[:3])
            lines.append(f"{path} {era} {scenario}: {outcome}, expected {want} {detail}")
    return lines


def problems_on(path: str, results: dict[str, dict[str, Outcome]], tmp: Path) -> list[str]:
    return [line for era in ERAS for line in unexpected(path, era, results[era], tmp / f"out-{era}")]


@pytest.mark.parametrize("path", ["mcp", "filesystem", "database"])
async def test_every_scenario_has_its_expected_outcome_on_the_path(path: str, tmp_path: Path) -> None:
    problems = problems_on(path, await measure(path, tmp_path), tmp_path)
    assert not problems, "\n".join(problems)


async def test_through_servers_every_scenario_passes_as_directly_and_warns_no_more(tmp_path: Path) -> None:
    direct, through = tmp_path / "direct", tmp_path / "servers"
    problems = problems_on("direct", await measure("direct", direct), direct)
    problems += problems_on("servers", await measure("servers", through), through)
    for era in ERAS:
        added = warnings_of(through / f"out-{era}") - warnings_of(direct / f"out-{era}")
        problems += [f"servers {era} warns only through the gateway: {warning}" for warning in sorted(added)]
    assert not problems, "\n".join(problems)


def test_every_exception_in_the_table_says_why() -> None:
    assert all(reason for table in EXPECTED.values() for _, reason in table.values())
