"""Backend spans of the filesystem server: one ``filesystem <operation>`` CLIENT span around each tool's disk
work, a child of the SDK's SERVER span for the ``tools/call``, carrying no path and no content."""

from __future__ import annotations

from pathlib import Path

import pytest
from opentelemetry.trace import StatusCode

from servers.filesystem.server import build_server
from tests.servers.filesystem.support import refused, settings_for
from tests.servers.spans import UNTOUCHABLE_TRACER, attributes, span_texts, traced_calls
from tests.support.observability import run_python

pytestmark = pytest.mark.anyio


async def test_each_tool_s_disk_work_gets_one_span_named_by_its_operation(root: Path) -> None:
    server = build_server(settings_for(root.parent / "data", (root, "rw")))
    traced = await traced_calls(
        server,
        ("read_text_file", {"path": "notes.txt"}),
        ("write_file", {"path": "new.txt", "content": "private words"}),
        ("list_directory", {"path": "."}),
        ("search_files", {"pattern": "*.py"}),
        ("grep", {"pattern": "beta", "literal": True}),
        ("get_file_info", {"path": "src/main.py"}),
        ("delete_path", {"path": "new.txt"}),
    )
    assert all(not result.is_error for result in traced.results)
    names = {
        tool: [s.name for s in traced.backend(tool)]
        for tool in ("read_text_file", "write_file", "list_directory", "search_files", "grep", "get_file_info")
    }
    assert names == {
        "read_text_file": ["filesystem read"],
        "write_file": ["filesystem write"],
        "list_directory": ["filesystem list"],
        "search_files": ["filesystem search"],
        "grep": ["filesystem grep"],
        "get_file_info": ["filesystem stat"],
    }
    assert attributes(traced.only_backend("delete_path")) == {"db.system": "filesystem", "db.operation.name": "delete"}
    text = span_texts(traced.spans)
    for private in (str(root), "notes.txt", "new.txt", "private words", "alpha"):
        assert private not in text


async def test_disk_work_that_fails_marks_its_span_an_error_with_the_error_code_only(root: Path) -> None:
    (root / "big.txt").write_text("line\n" * 10, encoding="utf-8")
    server = build_server(settings_for(root.parent / "data", (root, "rw")))
    traced = await traced_calls(
        server,
        ("write_file", {"path": "big.txt", "content": "x", "exclusive": True}),
        ("list_directory", {"path": "notes.txt"}),
    )
    refused(traced.results[0], "exists")
    span = traced.only_backend("write_file")
    assert span.status.status_code is StatusCode.ERROR
    assert attributes(span)["error.type"] == "exists"
    assert [e.attributes for e in span.events] == [{"exception.type": "servers.filesystem.errors.FsError"}]
    assert (root / "big.txt").read_text(encoding="utf-8") == "line\n" * 10
    assert "big.txt" not in span_texts(traced.spans)
    refused(traced.results[1], "not_a_directory")
    assert attributes(traced.only_backend("list_directory"))["error.type"] == "not_a_directory"


async def test_a_path_the_policy_refuses_touches_no_disk_and_gets_no_backend_span(root: Path) -> None:
    server = build_server(settings_for(root.parent / "data", (root, "rw")))
    traced = await traced_calls(server, ("read_text_file", {"path": ".env"}))
    refused(traced.results[0], "denied")
    assert traced.backend("read_text_file") == []
    assert "hunter2" not in span_texts(traced.spans)


OFF = """
import anyio
from mcp import Client
from opentelemetry import trace
from mesh import tracing
from servers.filesystem.settings import FilesystemRoot
from servers.filesystem.server import build_server
from suite.settings import SuiteSettings

async def main():
    settings = SuiteSettings(data_dir=DATA, filesystem={"roots": (FilesystemRoot(path=FILES, mode="rw"),)})
    async with Client(build_server(settings), mode="legacy") as client:
        for tool, arguments in [
            ("write_file", {"path": "a.txt", "content": "hello"}),
            ("read_text_file", {"path": "a.txt"}),
            ("grep", {"pattern": "hel+o"}),
            ("read_text_file", {"path": "missing.txt"}),
        ]:
            result = await client.call_tool(tool, arguments)
            print(tool, "error" if result.is_error else "ok")

anyio.run(main)
assert not tracing.active()
assert type(trace.get_tracer_provider()).__name__ == "ProxyTracerProvider"
print("off")
"""


def test_with_tracing_off_the_tools_start_no_span_and_install_nothing(tmp_path: Path) -> None:
    """In a fresh interpreter (a provider, once installed, stays for the process) with no trace destination."""
    files = tmp_path / "files"
    files.mkdir()
    code = f"DATA = {str(tmp_path / 'data')!r}\nFILES = {str(files)!r}\n" + UNTOUCHABLE_TRACER + OFF
    done = run_python(code, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [
        "write_file", "ok", "read_text_file", "ok", "grep", "ok", "read_text_file", "error", "off",
    ]  # fmt: skip
    assert (files / "a.txt").read_text(encoding="utf-8") == "hello"
