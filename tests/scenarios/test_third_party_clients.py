"""Clients that are not the official SDK's: FastMCP's ``Client`` and the MCP Inspector CLI.

Each lists tools, calls them, reads a resource and gets a prompt on the filesystem and database
servers directly and through the gateway, over streamable HTTP and over stdio. One process per
server and transport takes every request of a FastMCP test; the Inspector starts one per invocation
on stdio (it runs one method per invocation).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest
import yaml
from fastmcp import Client as FastMCPClient
from fastmcp.client.transports import StdioTransport

from gateway.door.http_app import build_gateway_app
from gateway.settings import GatewaySettings
from mesh.config import StaticInstance
from mesh.registry import StaticRegistry
from servers.database.server import DEFINITION as DATABASE
from servers.filesystem.server import DEFINITION as FILESYSTEM
from servers.runtime.definition import ServerDefinition
from servers.runtime.serve import build_http_app
from suite.settings import SuiteSettings
from tests.support.node_tools import inspector_cli_command, node_env
from tests.support.upstreams import serve_app

pytestmark = pytest.mark.anyio

NOTE = "alpha\nbeta\n"


@dataclass(frozen=True)
class Tour:
    """What a client does on one target, and what each answer must contain."""

    tools: frozenset[str]
    calls: tuple[tuple[str, dict[str, Any], str], ...]
    resources: tuple[tuple[str, str], ...]
    prompts: tuple[tuple[str, dict[str, str], str], ...]
    extra: dict[str, Any] = field(default_factory=dict)


def filesystem_tour(root: Path, prefix: str = "") -> Tour:
    return Tour(
        tools=frozenset({f"{prefix}read_text_file", f"{prefix}write_file"}),
        calls=((f"{prefix}read_text_file", {"path": "notes.txt"}, "beta"),),
        resources=((f"{root.as_uri()}/notes.txt", "alpha"),),
        prompts=((f"{prefix}review_file", {"path": "notes.txt"}, "notes.txt"),),
    )


def database_tour(prefix: str = "") -> Tour:
    return Tour(
        tools=frozenset({f"{prefix}sql_query", f"{prefix}list_connections"}),
        calls=((f"{prefix}sql_query", {"sql": "SELECT 6 * 7 AS answer"}, "42"),),
        resources=(("db://workspace/schema", ""),),
        prompts=((f"{prefix}write_query", {"question": "how many rows"}, "how many rows"),),
    )


def gateway_tour(root: Path) -> Tour:
    files, db = filesystem_tour(root, "filesystem_"), database_tour("database_")
    return Tour(
        tools=files.tools | db.tools | {"gateway_status"},
        calls=(*files.calls, *db.calls, ("gateway_status", {}, "mcp-suite-gateway")),
        resources=files.resources + db.resources,
        prompts=files.prompts + db.prompts,
    )


# ---- the targets ------------------------------------------------------------------------------


@pytest.fixture
def root(tmp_path: Path) -> Path:
    directory = tmp_path / "root"
    directory.mkdir()
    (directory / "notes.txt").write_text(NOTE, encoding="utf-8")
    return directory


def suite_env(tmp_path: Path, root: Path) -> dict[str, str]:
    """The environment of a stdio child: its data dir (the database's SQLite workspace) and the root."""
    return {
        **os.environ,
        "MCP_SUITE_DATA_DIR": str(tmp_path / "data"),
        "MCP_SUITE_FILESYSTEM__ROOTS": json.dumps([{"path": str(root), "mode": "rw"}]),
        "MCP_SUITE_LOG_LEVEL": "warning",
    }


def settings(tmp_path: Path, root: Path) -> SuiteSettings:
    return SuiteSettings(data_dir=tmp_path / "data", filesystem={"roots": [{"path": root, "mode": "rw"}]})


@asynccontextmanager
async def over_http(definition: ServerDefinition, suite: SuiteSettings) -> AsyncIterator[str]:
    async with serve_app(build_http_app(definition, definition.build(suite), suite)) as base:
        yield f"{base}/mcp"


@asynccontextmanager
async def servers_over_http(tmp_path: Path, root: Path) -> AsyncIterator[tuple[str, str]]:
    suite = settings(tmp_path, root)
    async with over_http(FILESYSTEM, suite) as files, over_http(DATABASE, suite) as db:
        yield files, db


@asynccontextmanager
async def gateway_over_http(files: str, db: str) -> AsyncIterator[str]:
    registry = StaticRegistry({"filesystem": (StaticInstance(url=files),), "database": (StaticInstance(url=db),)})
    app, _ = build_gateway_app(GatewaySettings(), registry)
    async with serve_app(app) as base:
        yield f"{base}/mcp"


def gateway_config(tmp_path: Path, files: str, db: str) -> Path:
    config = tmp_path / "gateway.yaml"
    static = {"filesystem": [{"url": files}], "database": [{"url": db}]}
    config.write_text(yaml.safe_dump({"log_level": "warning", "registry": {"static": static}}), encoding="utf-8")
    return config


def serve_words(server: str, root: Path) -> list[str]:
    return ["-m", "suite.cli", "serve", server, *([str(root)] if server == "filesystem" else [])]


def gateway_words(config: Path) -> list[str]:
    return ["-m", "suite.cli", "gateway", "--transport", "stdio", "--config", str(config)]


# ---- FastMCP ----------------------------------------------------------------------------------


async def fastmcp_tour(client: FastMCPClient[Any], tour: Tour) -> None:
    names = {tool.name for tool in await client.list_tools()}
    assert tour.tools <= names, names
    for name, arguments, expected in tour.calls:
        result = await client.call_tool(name, arguments)
        assert not result.is_error
        assert expected in json.dumps(result.structured_content), (name, result.structured_content)
    for uri, expected in tour.resources:
        contents = await client.read_resource(uri)
        assert expected in getattr(contents[0], "text", ""), (uri, contents)
    for name, prompt_arguments, expected in tour.prompts:
        prompt = await client.get_prompt(name, prompt_arguments)
        assert expected in prompt.model_dump_json(), (name, prompt)


async def test_fastmcp_works_with_each_server_and_the_gateway_over_http(tmp_path: Path, root: Path) -> None:
    async with servers_over_http(tmp_path, root) as (files, db), gateway_over_http(files, db) as gateway:
        for url, tour in ((files, filesystem_tour(root)), (db, database_tour()), (gateway, gateway_tour(root))):
            async with FastMCPClient(url) as client:
                await fastmcp_tour(client, tour)


async def test_fastmcp_works_with_each_server_and_the_gateway_over_stdio(tmp_path: Path, root: Path) -> None:
    env = suite_env(tmp_path, root)
    async with servers_over_http(tmp_path, root) as (files, db):
        targets = (
            (serve_words("filesystem", root), filesystem_tour(root)),
            (serve_words("database", root), database_tour()),
            (gateway_words(gateway_config(tmp_path, files, db)), gateway_tour(root)),
        )
        for words, tour in targets:
            # keep_alive=False: the child ends with the session (FastMCP keeps it by default, and a gateway
            # left running holds its event streams to the HTTP servers open, so they could not stop).
            transport = StdioTransport(command=sys.executable, args=words, env=env, keep_alive=False)
            async with FastMCPClient(transport) as client:
                await fastmcp_tour(client, tour)


# ---- the MCP Inspector CLI --------------------------------------------------------------------


async def inspect(target: list[str], *method: str, env: dict[str, str]) -> dict[str, Any]:
    """One Inspector invocation; its JSON result.

    ``target`` is ``--server-url <url>`` or ``-- <command...>`` (the Inspector keeps ``--transport`` and
    ``--config`` for itself, so a stdio target's own options follow ``--``); it goes after the method's
    options for a command, before them for a URL (``--prompt-args`` takes every word up to the next option).
    """
    head, tail = ([], target) if target[0] == "--" else (target, [])
    timeout = ["--connect-timeout", "120000"]  # a stdio target starts a Python process per invocation
    command = [*inspector_cli_command(), "--format", "json", "-q", *timeout, *head, *method, *tail]
    done = await anyio.run_process(command, env=env, check=False)
    assert done.returncode == 0, (method, done.stdout.decode(), done.stderr.decode()[-2000:])
    answer: dict[str, Any] = json.loads(done.stdout)
    result: dict[str, Any] = answer.get("result", answer)
    return result


async def inspector_tour(target: list[str], tour: Tour, env: dict[str, str]) -> None:
    """Every invocation of ``tour`` on ``target``: side by side on a URL, one after another on a command
    (each starts its own Python process, and a dozen starting at once can outlast the Inspector's timeout)."""
    invocations: list[tuple[tuple[str, ...], str]] = [(("--method", "tools/list"), "")]
    for name, arguments, expected in tour.calls:
        call = ("--method", "tools/call", "--tool-name", name, "--tool-args-json", json.dumps(arguments))
        invocations.append((call, expected))
    invocations += [(("--method", "resources/read", "--uri", uri), expected) for uri, expected in tour.resources]
    for name, prompt_arguments, expected in tour.prompts:
        pairs = [f"{key}={value}" for key, value in prompt_arguments.items()]
        invocations.append((("--method", "prompts/get", "--prompt-name", name, "--prompt-args", *pairs), expected))
    answers: list[dict[str, Any]] = [{} for _ in invocations]

    async def run(index: int, method: tuple[str, ...]) -> None:
        answers[index] = await inspect(target, *method, env=env)

    if target[0] == "--":
        for index, (method, _) in enumerate(invocations):
            await run(index, method)
    else:
        async with anyio.create_task_group() as group:
            for index, (method, _) in enumerate(invocations):
                group.start_soon(run, index, method)
    names = {tool["name"] for tool in answers[0]["tools"]}
    assert tour.tools <= names, names
    for (method, expected), answer in zip(invocations[1:], answers[1:], strict=True):
        assert "isError" not in answer or answer["isError"] is False, (method, answer)
        assert expected in json.dumps(answer), (method, answer)


async def test_the_inspector_works_with_each_server_and_the_gateway_over_http(tmp_path: Path, root: Path) -> None:
    env = node_env()
    async with (
        servers_over_http(tmp_path, root) as (files, db),
        gateway_over_http(files, db) as gateway,
        anyio.create_task_group() as group,
    ):
        for url, tour in ((files, filesystem_tour(root)), (db, database_tour()), (gateway, gateway_tour(root))):
            group.start_soon(inspector_tour, ["--server-url", url, "--transport", "http"], tour, env)


async def test_the_inspector_works_with_each_server_and_the_gateway_over_stdio(tmp_path: Path, root: Path) -> None:
    env = {**node_env(), **suite_env(tmp_path, root)}
    env["PATH"] = node_env()["PATH"]
    async with servers_over_http(tmp_path, root) as (files, db):
        targets = (
            (serve_words("filesystem", root), filesystem_tour(root)),
            (serve_words("database", root), database_tour()),
            (gateway_words(gateway_config(tmp_path, files, db)), gateway_tour(root)),
        )
        async with anyio.create_task_group() as group:
            for words, tour in targets:
                group.start_soon(inspector_tour, ["--", sys.executable, *words], tour, env)
